package panel

import (
	"slices"
	"sync/atomic"

	"github.com/xpanel/xpanel/kv"
)

// Operations a Gate is asked about.
const (
	BeforeCreate = "client.create"
	BeforeUpdate = "client.update"
)

// Gate vets a client change before it is stored: the operator's
// before-hooks. It is handed the client as the change would store it,
// and returns the client to store instead (nil keeps it as it is), or
// an error to refuse the change. A refusal made with Refusal reaches the
// caller with its text; the Gate must keep its own failures to itself
// and let the change pass.
//
// The Gate runs before the operation's transaction, against the state
// committed at that moment; a write racing it may change what it saw.
type Gate interface {
	BeforeClient(o Origin, op string, c *kv.Client) (*kv.Client, error)
}

// gateSlot holds the Gate, shared by every copy WithOrigin makes.
type gateSlot struct {
	g atomic.Pointer[Gate]
}

// SetGate makes g vet every later client create and update, from the
// API, bulk calls and scripts alike. Nil removes it.
func (s *Service) SetGate(g Gate) {
	if g == nil {
		s.gate.g.Store(nil)
		return
	}
	s.gate.g.Store(&g)
}

// vet asks the Gate about the client preview would become, and folds
// the fields it changed into in, as if the caller had sent them.
func (s *Service) vet(op string, in *ClientInput, preview *kv.Client) error {
	p := s.gate.g.Load()
	if p == nil {
		return nil
	}
	out, err := (*p).BeforeClient(s.origin, op, preview.Clone())
	if err != nil {
		return err
	}
	if out == nil || !patchInput(in, preview, out) {
		return nil
	}
	return in.validate()
}

// vetCreate runs the Gate over a client about to be added.
func (s *Service) vetCreate(in *ClientInput, inboundIDs []int64) error {
	if s.gate.g.Load() == nil {
		return nil
	}
	c := &kv.Client{}
	in.apply(c)
	c.Enable = in.Enable == nil || *in.Enable
	for _, id := range inboundIDs {
		c.Inbounds = append(c.Inbounds, kv.Attachment{InboundID: id})
	}
	return s.vet(BeforeCreate, in, c)
}

// vetUpdate runs the Gate over the client email is about to become. An
// unknown email is left for the operation to refuse.
func (s *Service) vetUpdate(email string, in *ClientInput) error {
	if s.gate.g.Load() == nil {
		return nil
	}
	var c *kv.Client
	s.store.View(func(v *kv.View) error {
		if old := v.ClientByEmail(email); old != nil {
			c = old.Clone()
		}
		return nil
	})
	if c == nil {
		return nil
	}
	in.apply(c)
	return s.vet(BeforeUpdate, in, c)
}

// patchInput sets in every field in which after differs from before,
// and reports whether there was any.
func patchInput(in *ClientInput, before, after *kv.Client) bool {
	changed := false
	text := func(dst **string, b, a string) {
		if a != b {
			*dst, changed = &a, true
		}
	}
	num := func(dst **int, b, a int) {
		if a != b {
			*dst, changed = &a, true
		}
	}
	num64 := func(dst **int64, b, a int64) {
		if a != b {
			*dst, changed = &a, true
		}
	}
	text(&in.UUID, before.UUID, after.UUID)
	text(&in.Security, before.Security, after.Security)
	text(&in.Password, before.Password, after.Password)
	text(&in.Flow, before.Flow, after.Flow)
	text(&in.Auth, before.Auth, after.Auth)
	text(&in.Email, before.Email, after.Email)
	text(&in.SubID, before.SubID, after.SubID)
	text(&in.Group, before.Group, after.Group)
	text(&in.Comment, before.Comment, after.Comment)
	text(&in.TrafficReset, before.TrafficReset, after.TrafficReset)
	num(&in.LimitIP, before.LimitIP, after.LimitIP)
	num(&in.LimitHwid, before.LimitHwid, after.LimitHwid)
	num(&in.Reset, before.Reset, after.Reset)
	num(&in.ResetDay, before.ResetDay, after.ResetDay)
	num(&in.ResetMax, before.ResetMax, after.ResetMax)
	num(&in.TrafficResetDay, before.TrafficResetDay, after.TrafficResetDay)
	num64(&in.TotalGB, before.TotalGB, after.TotalGB)
	num64(&in.ExpiryTime, before.ExpiryTime, after.ExpiryTime)
	num64(&in.TgID, before.TgID, after.TgID)
	if after.Enable != before.Enable {
		enable := after.Enable
		in.Enable, changed = &enable, true
	}
	return changed
}

// vetEach runs the Gate over what change would make of each client, as
// an update, and returns the emails it lets through; the refused ones
// are added to skipped with the Gate's reason. What the Gate would change
// in a client is not applied: a bulk change sets only its own fields.
// Unknown emails pass, for the operation to report.
func (s *Service) vetEach(emails []string, change func(*kv.Client), skipped *[]Skipped) []string {
	p := s.gate.g.Load()
	if p == nil {
		return emails
	}
	kept := emails[:0:0]
	for _, email := range emails {
		var c *kv.Client
		s.store.View(func(v *kv.View) error {
			if old := v.ClientByEmail(email); old != nil {
				c = old.Clone()
			}
			return nil
		})
		if c != nil {
			change(c)
			if _, err := (*p).BeforeClient(s.origin, BeforeUpdate, c); IsRefusal(err) {
				*skipped = append(*skipped, Skipped{Email: email, Reason: err.Error()})
				continue
			}
		}
		kept = append(kept, email)
	}
	return kept
}

// vetAll runs the Gate as vetEach does and refuses the whole call with
// the first refusal, for calls whose answer is a count and so cannot
// list a skipped client.
func (s *Service) vetAll(emails []string, change func(*kv.Client)) error {
	var skipped []Skipped
	s.vetEach(emails, change, &skipped)
	if len(skipped) > 0 {
		return refuse("%s: %s", skipped[0].Email, skipped[0].Reason)
	}
	return nil
}

// vetAttachments runs the Gate over the client email would become once
// change moves it between inbounds, unless its inbounds stay the same.
// The Gate may refuse; what else it changes is not applied, as the call
// changes nothing but the inbounds.
func (s *Service) vetAttachments(email string, change func(*kv.Client)) error {
	if s.gate.g.Load() == nil {
		return nil
	}
	moves := false
	s.store.View(func(v *kv.View) error {
		if c := v.ClientByEmail(email); c != nil {
			n := c.Clone()
			change(n)
			moves = !slices.Equal(n.InboundIDs(), c.InboundIDs())
		}
		return nil
	})
	if !moves {
		return nil
	}
	return s.vetAll([]string{email}, change)
}
