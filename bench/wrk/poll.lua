-- wrk script: an agent's poll of the job server (POST /api/agent/v1/poll).
--
--   HAVEN_AGENT_TOKEN=$(cat agent-token.txt) wrk -t2 -c50 -d20s --latency \
--       -s bench/wrk/poll.lua http://127.0.0.1:8000/api/agent/v1/poll
--   wrk ... -s bench/wrk/poll.lua http://127.0.0.1:8000/api/agent/v1/poll -- TOKEN
--
-- The backend's agent token comes from the first script argument (after
-- "--") or else from the environment variable HAVEN_AGENT_TOKEN. The body
-- is what the agent sends: its id and version, its free capacity, its
-- flags and the leases it holds (none). On a seeded database no job is
-- waiting, so with `serverload serve --hold 0` each poll answers 204.

local body = '{"agent_id":"bench-agent","agent_version":"bench",' ..
  '"capacity":{"jobs":4,"db_jobs":2},' ..
  '"flags":{"db_maintenance":false,"db_maintenance_type":""},"leases":[]}'

function init(args)
  local token = args[1] or os.getenv("HAVEN_AGENT_TOKEN")
  if token == nil or token == "" then
    io.stderr:write("poll.lua: no agent token: set HAVEN_AGENT_TOKEN or pass it after '--'\n")
    os.exit(2)
  end
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end
