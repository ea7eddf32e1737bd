-- wrk script: POST /api/auth/login with the administrator's credentials.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"admin@bench.test","password":"Banco-de-pruebas-2026!"}'
