-- Grants created and revoked, half each: POST /api/v1/grants shares flow
-- F with group G at `use` (each pair once: CAIRN_LOAD_FLOWS x
-- CAIRN_LOAD_GROUPS), and every other request revokes one of the grants
-- created so far (DELETE /api/v1/grants/{id}, ids from the 201 bodies).
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
common.install()
local flows = common.split(os.getenv("CAIRN_LOAD_FLOWS"))
local groups = common.split(os.getenv("CAIRN_LOAD_GROUPS"))
local headers = common.headers(true)
local created = {}
-- Each wrk run starts where the previous ones stopped (the script passes
-- the pairs they may have used), so no pair is granted twice.
local n, pair = 0, tonumber(os.getenv("CAIRN_LOAD_PAIR_OFFSET") or "0")

function request()
  n = n + 1
  if n % 2 == 0 and #created > 0 then
    return wrk.format("DELETE", "/api/v1/grants/" .. table.remove(created), headers)
  end
  local group = groups[(pair % #groups) + 1]
  local flow = flows[(math.floor(pair / #groups) % #flows) + 1]
  pair = pair + 1
  return wrk.format("POST", "/api/v1/grants", headers,
    '{"resource_type":"flow","resource_id":"' .. flow .. '","grantee_type":"group","grantee_id":"'
      .. group .. '","level":"use"}')
end

function response(status, headers, body)
  common.count(status)
  if status == 201 then
    local id = string.match(body, '"id":"([0-9a-f%-]+)"')
    if id then
      created[#created + 1] = id
    end
  end
end
