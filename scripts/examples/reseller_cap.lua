-- Never let a client of the "reseller" group have more than 100 GB, or
-- an unlimited quota, whether it is created or changed later.
--
-- error("...") in a before-hook refuses the change: the API caller gets
-- success=false with this message, and nothing is stored.

local GROUP = "reseller"
local CAP = 100 * 1024 * 1024 * 1024 -- bytes

local function check(c)
  if string.lower(c.group) ~= GROUP then
    return
  end
  if c.totalGB == 0 or c.totalGB > CAP then
    error("reseller clients are limited to 100 GB")
  end
end

xpanel.before("client.create", check)
xpanel.before("client.update", check)
