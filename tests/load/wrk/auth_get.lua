-- GET the URL given to wrk with the bearer token from CAIRN_LOAD_TOKEN.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
common.install()
wrk.headers["Authorization"] = common.headers(false)["Authorization"]

function response(status, headers, body)
  common.count(status)
end
