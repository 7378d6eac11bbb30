-- Secret writes: PUT /api/v1/secrets/{id} {value} over the member's
-- secrets (CAIRN_LOAD_SECRETS), round robin: each a rotation, sealed under
-- the owner's key and recorded as secret.rotated before the answer.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
common.install()
local ids = common.split(os.getenv("CAIRN_LOAD_SECRETS"))
local headers = common.headers(true)
local n = 0

function request()
  n = n + 1
  local id = ids[(n % #ids) + 1]
  return wrk.format("PUT", "/api/v1/secrets/" .. id, headers,
    '{"value":"rotated-value-' .. n .. '-' .. math.random(1000000) .. '"}')
end

function response(status, headers, body)
  common.count(status)
end
