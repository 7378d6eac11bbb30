-- Shared by the scripts of tests/load/e2e_load.py: the token and ids come
-- from the environment (never a file or the command line), and each
-- thread counts the statuses it gets, printed by done() as "statuses: ...".

local M = {}

function M.split(text)
  local items = {}
  for item in string.gmatch(text or "", "[^,]+") do
    items[#items + 1] = item
  end
  return items
end

function M.headers(json)
  local headers = { ["Authorization"] = "Bearer " .. (os.getenv("CAIRN_LOAD_TOKEN") or "") }
  if json then
    headers["Content-Type"] = "application/json"
  end
  return headers
end

M.codes = { 200, 201, 202, 204, 400, 401, 403, 404, 409, 422, 429, 503 }

function M.install()
  local threads = {}
  function setup(thread)
    threads[#threads + 1] = thread
  end
  counts = {}
  for _, code in ipairs(M.codes) do
    _G["status_" .. code] = 0
  end
  status_other = 0
  function M.count(status)
    local name = "status_" .. status
    if _G[name] ~= nil then
      _G[name] = _G[name] + 1
    else
      status_other = status_other + 1
    end
  end
  function done(summary, latency, requests)
    local parts = {}
    for _, code in ipairs(M.codes) do
      local total = 0
      for _, thread in ipairs(threads) do
        total = total + (thread:get("status_" .. code) or 0)
      end
      if total > 0 then
        parts[#parts + 1] = code .. "=" .. total
      end
    end
    local other = 0
    for _, thread in ipairs(threads) do
      other = other + (thread:get("status_other") or 0)
    end
    if other > 0 then
      parts[#parts + 1] = "other=" .. other
    end
    io.write("statuses: " .. table.concat(parts, " ") .. "\n")
  end
end

return M
