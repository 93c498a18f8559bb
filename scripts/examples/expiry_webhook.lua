-- Tell a billing system when a client expires, with a signed webhook.
--
-- The body is JSON; the X-Signature header carries "sha256=" and the
-- hex HMAC-SHA256 of the body under SECRET, so the receiver can check
-- that the call came from this panel. Delivery is at least once: the
-- receiver should ignore an eventId it has already seen.

local WEBHOOK = "https://billing.example.com/xpanel/expired"
local SECRET = "change-me"

xpanel.on("client.expired", function(e)
  local answer, err = xpanel.http_post(WEBHOOK, {
    event = e.event,
    eventId = e.eventId,
    email = e.email,
    subId = e.subId,
    expiryTime = e.expiryTime,
    at = e.at,
  }, {secret = SECRET, timeout = 5})
  if not answer then
    error("webhook failed: " .. err)
  end
  if answer.status >= 300 then
    error("webhook answered " .. answer.status)
  end
end)
