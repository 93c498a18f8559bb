package panel

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/xpanel/xpanel/kv"
)

// update runs fn in one store transaction and turns a unique-index
// collision into a refusal the caller can read.
func (s *Service) update(fn func(tx *kv.Tx) error) error {
	err := s.store.Update(func(tx *kv.Tx) error {
		s.noteOrigin(tx)
		return fn(tx)
	})
	var ue *kv.UniqueError
	if errors.As(err, &ue) {
		return refuse("%s already in use", ue.Index)
	}
	var fe *kv.FollowError
	if errors.As(err, &fe) {
		return refuse("proxy core refused the change: %v", fe.Err)
	}
	return err
}

// AddRequest is the body of an add: a client and the inbounds it joins.
type AddRequest struct {
	Client     ClientInput `json:"client"`
	InboundIDs []int64     `json:"inboundIds"`
}

// AddClient creates a client and attaches it to inbounds. Adding an email
// that exists with the same subId attaches it to more inbounds and
// overwrites the fields sent, as re-adding does in the API it mirrors.
func (s *Service) AddClient(req *AddRequest) error {
	if err := req.Client.validate(); err != nil {
		return err
	}
	ids := uniqueIDs(req.InboundIDs)
	if len(ids) == 0 {
		return refuse("at least one inbound is required")
	}
	if err := s.vetCreate(&req.Client, ids); err != nil {
		return err
	}
	return s.update(func(tx *kv.Tx) error {
		return s.addClient(tx, &req.Client, ids)
	})
}

func (s *Service) addClient(tx *kv.Tx, in *ClientInput, inboundIDs []int64) error {
	profiles, err := loadProfiles(tx, inboundIDs)
	if err != nil {
		return err
	}
	c, existing, err := s.clientToAdd(tx, in)
	if err != nil {
		return err
	}
	if err := checkSubID(tx, c); err != nil {
		return err
	}

	var before []profile
	if existing != nil {
		before, _ = loadProfiles(tx, existing.InboundIDs())
	}
	for _, p := range profiles {
		if _, ok := c.Attachment(p.in.ID); !ok {
			c.Inbounds = append(c.Inbounds, kv.Attachment{InboundID: p.in.ID})
		}
	}
	all := append(slices.Clone(before), profiles...)
	setFlows(c, all)
	if err := fillCredentials(c, before, all); err != nil {
		return err
	}
	if err := tx.PutClient(c); err != nil {
		return err
	}
	return s.ensureTraffic(tx, c, inboundIDs[0])
}

// clientToAdd builds the record an add stores: a new one, or a copy of
// the existing record when the add re-adds the same identity.
func (s *Service) clientToAdd(tx *kv.Tx, in *ClientInput) (c, existing *kv.Client, err error) {
	now := s.nowMs()
	email := *in.Email
	existing, err = tx.ClientByFold(email)
	switch {
	case err != nil:
		return nil, nil, err
	case existing == nil:
		c = &kv.Client{CreatedAt: now}
		if in.CreatedAt != nil && *in.CreatedAt > 0 {
			c.CreatedAt = *in.CreatedAt
		}
	case existing.Email != email:
		return nil, nil, refuse("Duplicate email: %s", email)
	case existing.SubID == "" || existing.SubID != str(in.SubID):
		return nil, nil, refuse("email already in use: %s", email)
	default:
		c = existing.Clone()
	}

	in.apply(c)
	c.Enable = in.Enable == nil || *in.Enable
	if c.SubID == "" {
		c.SubID = newSubID()
	}
	c.UpdatedAt = now
	return c, existing, nil
}

// checkSubID refuses a subId that another client owns.
func checkSubID(tx *kv.Tx, c *kv.Client) error {
	for _, other := range tx.ClientsBySubID(c.SubID) {
		if other.ID != c.ID {
			return refuse("subId already in use: %s", c.SubID)
		}
	}
	return nil
}

// ensureTraffic gives the client a usage row, keeping the counters of a
// row the email already has, and aligns its enforcement flag.
func (s *Service) ensureTraffic(tx *kv.Tx, c *kv.Client, inboundID int64) error {
	t := tx.Traffic(c.Email)
	if t == nil {
		return tx.PutTraffic(&kv.Traffic{Email: c.Email, InboundID: inboundID, Enable: c.Enable})
	}
	if t.Enable == c.Enable {
		return nil
	}
	n := *t
	n.Enable = c.Enable
	return tx.PutTraffic(&n)
}

// fillCredentials generates what the client's inbounds need and it lacks,
// and refuses a password that a Shadowsocks 2022 inbound cannot use.
// before are the inbounds it was attached to before the change.
func fillCredentials(c *kv.Client, before, after []profile) error {
	keyLen := 0
	needs := map[string]bool{}
	for _, p := range after {
		needs[p.needs()] = true
		if n := p.keyLen(); n > 0 {
			if keyLen > 0 && keyLen != n {
				return refuse("client %s cannot join Shadowsocks 2022 inbounds with different key sizes", c.Email)
			}
			keyLen = n
		}
	}
	if needs["uuid"] && c.UUID == "" {
		c.UUID = uuid.NewString()
	}
	if !needs["password"] {
		return nil
	}
	switch {
	case keyLen > 0 && !validKey(c.Password, keyLen):
		if c.Password != "" && slices.ContainsFunc(before, usesPassword) {
			return refuse("client %s password is not a base64 key of %d bytes, which Shadowsocks 2022 needs", c.Email, keyLen)
		}
		c.Password = newKey(keyLen)
	case c.Password == "":
		c.Password = newSecret()
	}
	return nil
}

func usesPassword(p profile) bool { return p.needs() == "password" }

// setFlows gives each attachment the client's flow where its inbound can
// carry one, and no flow elsewhere.
func setFlows(c *kv.Client, profiles []profile) {
	for i, a := range c.Inbounds {
		for _, p := range profiles {
			if p.in.ID == a.InboundID {
				c.Inbounds[i].Flow = p.flowOn(c.Flow)
			}
		}
	}
}

// EffectiveFlow is the flow a client shows: the first flow one of its
// attachments carries, or its own when it is attached nowhere.
func EffectiveFlow(c *kv.Client) string {
	if len(c.Inbounds) == 0 {
		return c.Flow
	}
	for _, a := range c.Inbounds {
		if a.Flow != "" {
			return a.Flow
		}
	}
	return ""
}

// loadProfiles loads inbounds by id, refusing an unknown one.
func loadProfiles(tx *kv.Tx, ids []int64) ([]profile, error) {
	out := make([]profile, 0, len(ids))
	for _, id := range ids {
		in := tx.Inbound(id)
		if in == nil {
			return nil, refuse("inbound %d not found", id)
		}
		out = append(out, profileOf(in))
	}
	return out, nil
}

// uniqueIDs drops duplicates and keeps the first-seen order.
func uniqueIDs(ids []int64) []int64 {
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// UpdateClient changes the client with exactly this email. Fields absent
// from the input keep their stored values; empty credentials and subId
// keep theirs too, as in the API this server is compatible with.
func (s *Service) UpdateClient(email string, in *ClientInput) error {
	if in.Email == nil {
		in.Email = &email
	}
	if err := in.validate(); err != nil {
		return err
	}
	for _, p := range []**string{&in.SubID, &in.UUID, &in.Password, &in.Auth} {
		if *p != nil && **p == "" {
			*p = nil
		}
	}
	if err := s.vetUpdate(email, in); err != nil {
		return err
	}
	return s.update(func(tx *kv.Tx) error {
		return s.updateClient(tx, email, in)
	})
}

func (s *Service) updateClient(tx *kv.Tx, email string, in *ClientInput) error {
	old, err := tx.ClientByEmail(email)
	if err != nil {
		return err
	}
	if old == nil {
		return errRecordNotFound
	}
	c := old.Clone()
	in.apply(c)
	c.UpdatedAt = s.nowMs()
	if err := checkRename(tx, old, c); err != nil {
		return err
	}
	if c.SubID != old.SubID {
		if err := checkSubID(tx, c); err != nil {
			return refuse("Duplicate subId: %s", c.SubID)
		}
	}

	profiles, err := loadProfiles(tx, c.InboundIDs())
	if err != nil {
		return err
	}
	setFlows(c, profiles)
	if err := fillCredentials(c, profiles, profiles); err != nil {
		return err
	}
	if err := tx.PutClient(c); err != nil {
		return err
	}
	return s.moveUsage(tx, old, c)
}

// checkRename refuses an email change onto another client's email.
func checkRename(tx *kv.Tx, old, c *kv.Client) error {
	if c.Email == old.Email {
		return nil
	}
	other, err := tx.ClientByFold(c.Email)
	if err != nil {
		return err
	}
	if other != nil && other.ID != c.ID {
		return refuse("Duplicate email: %s", c.Email)
	}
	return nil
}

// moveUsage carries the usage row and address list of a renamed client to
// its new email, and aligns the row's enforcement flag with the record.
// When the new email already has a row, kept from a deleted client, that
// row counts on and the old one is dropped, so that no row is left under
// an email nobody holds, for a later client of that email to inherit.
func (s *Service) moveUsage(tx *kv.Tx, old, c *kv.Client) error {
	if old.Email != c.Email {
		if t := tx.Traffic(old.Email); t != nil {
			if err := tx.DeleteTraffic(old.Email); err != nil {
				return err
			}
			if tx.Traffic(c.Email) == nil {
				moved := *t
				moved.Email = c.Email
				if err := tx.PutTraffic(&moved); err != nil {
					return err
				}
			}
		}
		if ips := tx.IPs(old.Email); len(ips) > 0 {
			if err := tx.PutIPs(old.Email, nil); err != nil {
				return err
			}
			if err := tx.PutIPs(c.Email, ips); err != nil {
				return err
			}
		}
	}
	if t := tx.Traffic(c.Email); t != nil && t.Enable != c.Enable {
		n := *t
		n.Enable = c.Enable
		return tx.PutTraffic(&n)
	}
	return nil
}

// DeleteClient removes the client with exactly this email, with its usage
// row and address list unless keepTraffic is set.
func (s *Service) DeleteClient(email string, keepTraffic bool) error {
	return s.update(func(tx *kv.Tx) error {
		c, err := tx.ClientByEmail(email)
		if err != nil {
			return err
		}
		if c == nil {
			return refuse("client %q not found in any inbound or client record", email)
		}
		return s.deleteClient(tx, c, keepTraffic)
	})
}

func (s *Service) deleteClient(tx *kv.Tx, c *kv.Client, keepTraffic bool) error {
	if err := s.lowerGroupBaseline(tx, c); err != nil {
		return err
	}
	if err := tx.DeleteClient(c.ID); err != nil {
		return fmt.Errorf("delete client: %w", err)
	}
	if keepTraffic {
		return nil
	}
	if err := tx.DeleteTraffic(c.Email); err != nil {
		return err
	}
	return tx.PutIPs(c.Email, nil)
}

// Attach adds the client to more inbounds. Inbounds it is already on are
// skipped; an unknown inbound refuses the whole call. The before-hooks
// see the client with the inbounds added and may refuse.
func (s *Service) Attach(email string, inboundIDs []int64) error {
	ids := uniqueIDs(inboundIDs)
	err := s.vetAttachments(email, func(c *kv.Client) {
		for _, id := range ids {
			if _, ok := c.Attachment(id); !ok {
				c.Inbounds = append(c.Inbounds, kv.Attachment{InboundID: id})
			}
		}
		slices.SortFunc(c.Inbounds, func(a, b kv.Attachment) int {
			return cmp.Compare(a.InboundID, b.InboundID)
		})
	})
	if err != nil {
		return err
	}
	return s.update(func(tx *kv.Tx) error {
		c, err := tx.ClientByEmail(email)
		if err != nil {
			return err
		}
		if c == nil {
			return errRecordNotFound
		}
		return s.attach(tx, c, ids)
	})
}

func (s *Service) attach(tx *kv.Tx, c *kv.Client, ids []int64) error {
	added, err := loadProfiles(tx, slices.DeleteFunc(slices.Clone(ids), func(id int64) bool {
		_, ok := c.Attachment(id)
		return ok
	}))
	if err != nil || len(added) == 0 {
		return err
	}
	before, err := loadProfiles(tx, c.InboundIDs())
	if err != nil {
		return err
	}
	n := c.Clone()
	for _, p := range added {
		n.Inbounds = append(n.Inbounds, kv.Attachment{InboundID: p.in.ID})
	}
	all := append(slices.Clone(before), added...)
	setFlows(n, all)
	if err := fillCredentials(n, before, all); err != nil {
		return err
	}
	n.UpdatedAt = s.nowMs()
	if err := tx.PutClient(n); err != nil {
		return err
	}
	return s.ensureTraffic(tx, n, added[0].in.ID)
}

// Detach removes the client from inbounds. Ids it is not on are ignored;
// the client and its usage row stay, even with no inbound left. The
// before-hooks see the client with the inbounds removed and may refuse.
func (s *Service) Detach(email string, inboundIDs []int64) error {
	err := s.vetAttachments(email, func(c *kv.Client) {
		c.Inbounds = slices.DeleteFunc(c.Inbounds, func(a kv.Attachment) bool {
			return slices.Contains(inboundIDs, a.InboundID)
		})
	})
	if err != nil {
		return err
	}
	return s.update(func(tx *kv.Tx) error {
		c, err := tx.ClientByEmail(email)
		if err != nil {
			return err
		}
		if c == nil {
			return errRecordNotFound
		}
		return s.detach(tx, c, inboundIDs)
	})
}

func (s *Service) detach(tx *kv.Tx, c *kv.Client, ids []int64) error {
	n := c.Clone()
	n.Inbounds = slices.DeleteFunc(n.Inbounds, func(a kv.Attachment) bool {
		return slices.Contains(ids, a.InboundID)
	})
	if len(n.Inbounds) == len(c.Inbounds) {
		return nil
	}
	n.UpdatedAt = s.nowMs()
	return tx.PutClient(n)
}
