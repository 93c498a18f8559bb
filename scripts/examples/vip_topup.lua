-- Give a VIP client 10 GB more whenever it runs out of quota.
--
-- Enforcement disables a client that used up its quota and then fires
-- client.depleted. Extending the quota through xpanel.extend raises
-- totalGB the way bulkAdjust does, which enables the client again once
-- it is no longer out.

local VIP_GROUP = "vip"
local TOP_UP = 10 * 1024 * 1024 * 1024 -- bytes

xpanel.on("client.depleted", function(e)
  if string.lower(e.group) ~= VIP_GROUP then
    return
  end
  local ok, err = xpanel.extend(e.email, {bytes = TOP_UP})
  if not ok then
    xpanel.log("warn", "vip top-up refused", {email = e.email, reason = err})
    return
  end
  xpanel.log("info", "vip topped up", {email = e.email, added = TOP_UP})
end)
