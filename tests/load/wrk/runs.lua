-- Runs requested: POST /api/v1/flows/{id}/runs as the member, on a flow
-- shared with their group (CAIRN_LOAD_RUN_FLOW; one `log` step). Past the
-- bounded run queue the server answers 503 at once, counted apart.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
common.install()
local flow = os.getenv("CAIRN_LOAD_RUN_FLOW")
local headers = common.headers(true)

function request()
  return wrk.format("POST", "/api/v1/flows/" .. flow .. "/runs", headers, "{}")
end

function response(status, headers, body)
  common.count(status)
end
