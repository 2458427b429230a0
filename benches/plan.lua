-- wrk script: POST a plan request (see benches/load.sh)
wrk.method = "POST"
wrk.body = '{"command": "install authentik with TLS"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer load-bench"
