package panel

import (
	"slices"

	"github.com/google/uuid"
	"github.com/xpanel/xpanel/kv"
)

// guidKey is where the server's own GUID is stored.
const guidKey = "panel_guid"

// GUID returns this server's GUID, creating and storing it on first use.
// Runtime answers (online clients, addresses, active inbounds) are keyed
// by it.
func (s *Service) GUID() (string, error) {
	var guid string
	s.store.View(func(v *kv.View) error { guid = v.Meta(guidKey); return nil })
	if guid != "" {
		return guid, nil
	}
	err := s.store.Update(func(tx *kv.Tx) error {
		if guid = tx.Meta(guidKey); guid == "" {
			guid = uuid.NewString()
			return tx.PutMeta(guidKey, guid)
		}
		return nil
	})
	return guid, err
}

// ClearIPs forgets the source addresses recorded for an email. The
// addresses it still connects from are recorded again by the next
// traffic poll.
func (s *Service) ClearIPs(email string) error {
	err := s.store.Update(func(tx *kv.Tx) error {
		if len(tx.IPs(email)) == 0 {
			return nil
		}
		return tx.PutIPs(email, nil)
	})
	s.cleared.Add(1)
	return err
}

// Onlines lists the emails online now, sorted.
func (s *Service) Onlines() []string {
	out := []string{}
	if s.opts.Presence == nil {
		return out
	}
	set, _ := s.opts.Presence.Online()
	for email := range set {
		out = append(out, email)
	}
	slices.Sort(out)
	return out
}

// ActiveInbounds lists the tags of inbounds that moved bytes recently.
func (s *Service) ActiveInbounds() []string {
	if s.opts.Presence == nil {
		return []string{}
	}
	return s.opts.Presence.ActiveInbounds()
}
