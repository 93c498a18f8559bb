package panel

// EventKind names what happened to a client.
type EventKind string

// The events the traffic poller and enforcement emit, for the hooks
// that operators script.
const (
	// EventStarted: a delayed-start client's first traffic started the
	// clock of its expiry.
	EventStarted EventKind = "started"
	// EventRenewed: an auto-renewing client got a new period.
	EventRenewed EventKind = "renewed"
	// EventTrafficReset: a periodic reset zeroed the client's usage.
	EventTrafficReset EventKind = "traffic_reset"
	// EventDepleted: the client used up its quota and was disabled.
	EventDepleted EventKind = "depleted"
	// EventExpired: the client's expiry passed and it was disabled.
	EventExpired EventKind = "expired"
	// EventOnline: the client came online after being away.
	EventOnline EventKind = "online"
)

// Event is one thing that happened to a client, emitted after the
// change it reports has been committed.
type Event struct {
	Kind     EventKind
	Email    string
	ClientID int64 // 0 when only the email is known
}

// emit hands committed events to the configured sink, in order.
func (s *Service) emit(events ...Event) {
	for _, ev := range events {
		s.log.Info("client event", "event", string(ev.Kind), "email", ev.Email)
		if s.opts.OnEvent != nil {
			s.opts.OnEvent(ev)
		}
	}
}
