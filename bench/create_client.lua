-- wrk script: POST /api/clients with a unique email per request.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"name":"Cliente bench %d-%d","email":"bench-%d-%d-%d@ejemplo.cl","phone":"+56 9 1234 5678","comuna":"Providencia","tax_id":"76.086.428-5"}',
    thread_id, counter, thread_id, counter, os.time())
  return wrk.format("POST", "/api/clients", {["Content-Type"] = "application/json", ["Authorization"] = wrk.headers["Authorization"]}, body)
end
