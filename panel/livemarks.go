package panel

import (
	"slices"

	"github.com/xpanel/xpanel/kv"
)

// liveMarks remembers, per connected user, what the last round recorded
// of its connections, so that a round can pass over the users whose
// connections have not changed since without reading the store for
// them. At 100,000 connected users those reads were most of a round.
//
// A user is passed over until its mark is due, one to two minutes after
// it was recorded (restampAfter), so its address stamps and last-online
// time still move while it stays connected; a change of address or a
// refusal is recorded in the round that sees it.
type liveMarks struct {
	marks   map[string]*liveMark // by lower-cased email
	cleared uint64               // the service's count of address resets
}

type liveMark struct {
	email string   // as the client record spells it
	ips   []string // the live addresses recorded, oldest first
	due   int64    // Unix second from which the user is recorded again
	round uint64   // the last round that saw the user connected
}

// split divides live into the users recorded and unchanged, whose
// record emails it returns, and the rest, which the round must record.
func (m *liveMarks) split(live map[string]LiveUser, nowSec int64,
	round uint64) ([]string, map[string]LiveUser) {
	var known []string
	fresh := map[string]LiveUser{}
	for folded, lu := range live {
		mk := m.marks[folded]
		if mk == nil || len(lu.Refused) > 0 || nowSec >= mk.due || !slices.Equal(mk.ips, lu.IPs) {
			fresh[folded] = lu
			continue
		}
		mk.round = round
		known = append(known, mk.email)
	}
	return known, fresh
}

// note marks the users of fresh that the round recorded, with the
// record email each resolved to, and forgets the users no longer seen.
func (m *liveMarks) note(fresh map[string]LiveUser, emails map[string]string,
	nowSec int64, round uint64) {
	if m.marks == nil {
		m.marks = map[string]*liveMark{}
	}
	for folded, lu := range fresh {
		email, ok := emails[folded]
		if !ok || len(lu.IPs) == 0 {
			delete(m.marks, folded)
			continue
		}
		m.marks[folded] = &liveMark{email: email, ips: lu.IPs,
			due: nowSec + restampAfter(folded), round: round}
	}
	for folded, mk := range m.marks {
		if mk.round != round {
			delete(m.marks, folded)
		}
	}
}

// reset forgets every mark when addresses were cleared through the API
// since the last round, so that live addresses are recorded again at
// once.
func (m *liveMarks) reset(cleared uint64) {
	if cleared != m.cleared {
		clear(m.marks)
		m.cleared = cleared
	}
}

// liveEmails resolves the lower-cased emails of fresh to the emails of
// their client records, as of the committed state.
func (s *Service) liveEmails(fresh map[string]LiveUser) map[string]string {
	out := make(map[string]string, len(fresh))
	s.store.View(func(v *kv.View) error {
		for folded := range fresh {
			if c := v.ClientByFold(folded); c != nil {
				out[folded] = c.Email
			}
		}
		return nil
	})
	return out
}
