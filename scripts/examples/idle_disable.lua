-- Every night, disable the clients nobody has used for 30 days.
--
-- Active clients are listed by lastOnline, oldest first, a page at a
-- time; the walk stops at the first one seen within the window. A
-- client never seen online counts from when it was created.

local IDLE_DAYS = 30
local DAY_MS = 24 * 60 * 60 * 1000
local PAGE = 500

xpanel.every("24h", function()
  local cutoff = xpanel.now() - IDLE_DAYS * DAY_MS
  local disabled, page = 0, 1
  while true do
    local result = xpanel.clients({filter = "active", sort = "lastOnline",
      page = page, pageSize = PAGE})
    local last = #result.items < PAGE
    local here = 0
    for _, c in ipairs(result.items) do
      if c.lastOnline > cutoff then
        last = true
        break
      end
      local seen = c.lastOnline
      if seen == 0 then seen = c.createdAt end
      if seen <= cutoff and xpanel.disable(c.email) then
        here = here + 1
      end
    end
    disabled = disabled + here
    if last then break end
    -- Disabled clients leave the active list and the rest move up:
    -- read the same page again unless it disabled nobody.
    if here == 0 then page = page + 1 end
  end
  xpanel.log("info", "idle clients disabled", {count = disabled, days = IDLE_DAYS})
end)
