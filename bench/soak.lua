-- wrk script for bench/soak.sh: a mix of what a warehouse's day sends.
--   60% GET /api/orders/{number}    (a random one of the demo's orders)
--   20% GET /api/orders?limit=50    (a list page of the API)
--   10% GET /orders                 (an HTML page)
--   10% POST /api/clients           (a write, unique email)
-- Each connection waits `SOAK_DELAY_MS` between requests (wrk's delay()),
-- so the load is steady rather than saturating.
local counter = 0
local thread_id = 0
local threads = {}
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "20")
local orders = tonumber(os.getenv("SOAK_ORDERS") or "10000")

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  math.randomseed(os.time() + id)
end

function delay()
  return delay_ms
end

request = function()
  counter = counter + 1
  local auth = wrk.headers["Authorization"]
  local roll = math.random(100)
  if roll <= 60 then
    local number = string.format("ORD-%06d", math.random(orders))
    return wrk.format("GET", "/api/orders/" .. number, {["Authorization"] = auth})
  elseif roll <= 80 then
    return wrk.format("GET", "/api/orders?limit=50", {["Authorization"] = auth})
  elseif roll <= 90 then
    return wrk.format("GET", "/orders", {["Authorization"] = auth, ["Accept"] = "text/html"})
  else
    local body = string.format(
      '{"name":"Cliente soak %d-%d","email":"soak-%d-%d-%d@ejemplo.cl","comuna":"Providencia"}',
      thread_id, counter, thread_id, counter, os.time())
    return wrk.format("POST", "/api/clients",
      {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
  end
end
