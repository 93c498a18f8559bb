package panel

import (
	"fmt"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
)

const dayMs = 86_400_000

// AdjustRequest is the body of a bulk adjust.
type AdjustRequest struct {
	Emails   []string `json:"emails"`
	AddDays  int64    `json:"addDays"`
	AddBytes int64    `json:"addBytes"`
	Flow     string   `json:"flow"`
}

// AdjustResult counts the clients a bulk adjust changed and lists the
// reasons it could not change others. A client can be in both: its quota
// changed while its unlimited expiry could not.
type AdjustResult struct {
	Adjusted int       `json:"adjusted"`
	Skipped  []Skipped `json:"skipped,omitempty"`
}

// BulkAdjust moves the expiry and quota of clients by a delta and sets or
// clears their flow. A client disabled because it ran out, and no longer
// out after the adjustment, is enabled again.
func (s *Service) BulkAdjust(req *AdjustRequest) (AdjustResult, error) {
	var res AdjustResult
	flow := strings.TrimSpace(req.Flow)
	if flow != "none" && !validFlow(flow) {
		flow = ""
	}
	emails := cleanEmails(req.Emails)
	if len(emails) == 0 {
		return res, nil
	}
	if req.AddDays == 0 && req.AddBytes == 0 && flow == "" {
		return res, refuse("no adjustment specified")
	}
	if req.AddDays > 1_000_000 || req.AddDays < -1_000_000 {
		return res, refuse("addDays must be between -1000000 and 1000000")
	}

	emails = s.vetEach(emails, func(c *kv.Client) {
		if req.AddDays != 0 {
			shiftExpiry(c, req.AddDays*dayMs)
		}
		if req.AddBytes != 0 {
			shiftQuota(c, req.AddBytes)
		}
		switch flow {
		case "none":
			c.Flow = ""
		case "":
		default:
			c.Flow = flow
		}
	}, &res.Skipped)
	now := s.nowMs()
	_, err := s.batch(len(emails), func(tx *kv.Tx, i int) error {
		c, err := tx.ClientByEmail(emails[i])
		if err != nil {
			return err
		}
		if c == nil {
			res.Skipped = append(res.Skipped, Skipped{emails[i], "client not found"})
			return nil
		}
		changed, reason, err := s.adjust(tx, c, req, flow, now)
		if changed {
			res.Adjusted++
		}
		if reason != "" {
			res.Skipped = append(res.Skipped, Skipped{c.Email, reason})
		}
		return err
	})
	return res, err
}

// adjust applies one client's part of a bulk adjust. It returns whether
// anything changed and the first reason something could not.
func (s *Service) adjust(tx *kv.Tx, c *kv.Client, req *AdjustRequest, flow string, now int64) (bool, string, error) {
	n := c.Clone()
	changed, reason := false, ""
	note := func(r string) {
		if reason == "" {
			reason = r
		}
	}

	if req.AddDays != 0 {
		r := shiftExpiry(n, req.AddDays*dayMs)
		changed = changed || r == ""
		note(r)
	}
	if req.AddBytes != 0 {
		r := shiftQuota(n, req.AddBytes)
		changed = changed || r == ""
		note(r)
	}
	if flow != "" {
		honoured, err := s.adjustFlow(tx, n, flow)
		if err != nil {
			return false, "", err
		}
		if !honoured {
			note("flow not supported on inbound")
		}
		changed = changed || honoured
	}
	if !changed {
		return false, reason, nil
	}

	t := tx.Traffic(c.Email)
	revive := t != nil && !t.Enable && depleted(c, t, now) && !depleted(n, t, now)
	if revive {
		n.Enable = true
	}
	n.UpdatedAt = now
	if err := tx.PutClient(n); err != nil {
		return false, "", err
	}
	if revive {
		return true, reason, s.ensureTraffic(tx, n, firstInbound(n))
	}
	return true, reason, nil
}

// shiftExpiry moves an expiry by delta ms, or says why it cannot. A
// delayed start grows longer when extended.
func shiftExpiry(c *kv.Client, delta int64) string {
	switch old := c.ExpiryTime; {
	case old == 0:
		return "unlimited expiry"
	case old > 0:
		if old+delta <= 0 {
			return "reduction exceeds remaining time"
		}
		c.ExpiryTime = old + delta
	default:
		if old-delta >= 0 {
			return "reduction exceeds delay window"
		}
		c.ExpiryTime = old - delta
	}
	return ""
}

// shiftQuota moves a quota by delta bytes, or says why it cannot.
func shiftQuota(c *kv.Client, delta int64) string {
	switch {
	case c.TotalGB == 0:
		return "unlimited traffic"
	case c.TotalGB+delta <= 0:
		return "reduction exceeds remaining quota"
	}
	c.TotalGB += delta
	return ""
}

// adjustFlow sets ("xtls-...") or clears ("none") the client's flow and
// reports whether any of its inbounds took it.
func (s *Service) adjustFlow(tx *kv.Tx, c *kv.Client, flow string) (bool, error) {
	if flow == "none" {
		c.Flow = ""
		for i := range c.Inbounds {
			c.Inbounds[i].Flow = ""
		}
		return true, nil
	}
	profiles, err := loadProfiles(tx, c.InboundIDs())
	if err != nil {
		return false, err
	}
	for _, p := range profiles {
		if p.carriesFlow() {
			c.Flow = flow
			setFlows(c, profiles)
			return true, nil
		}
	}
	return false, nil
}

// ChangeResult counts the clients a bulk enable or disable went through.
type ChangeResult struct {
	Changed int       `json:"changed"`
	Skipped []Skipped `json:"skipped,omitempty"`
}

// SetEnabled enables or disables clients. Every existing client counts as
// changed, also one already in the state asked for.
func (s *Service) SetEnabled(emails []string, enable bool) (ChangeResult, error) {
	var res ChangeResult
	emails = s.vetEach(cleanEmails(emails), func(c *kv.Client) { c.Enable = enable },
		&res.Skipped)
	now := s.nowMs()
	_, err := s.batch(len(emails), func(tx *kv.Tx, i int) error {
		c, err := tx.ClientByEmail(emails[i])
		if err != nil {
			return err
		}
		if c == nil {
			res.Skipped = append(res.Skipped, Skipped{emails[i], "client not found"})
			return nil
		}
		res.Changed++
		return s.setEnabled(tx, c, enable, now)
	})
	return res, err
}

func (s *Service) setEnabled(tx *kv.Tx, c *kv.Client, enable bool, now int64) error {
	if c.Enable != enable {
		n := c.Clone()
		n.Enable, n.UpdatedAt = enable, now
		if err := tx.PutClient(n); err != nil {
			return err
		}
		c = n
	}
	if t := tx.Traffic(c.Email); t != nil && t.Enable != enable {
		n := *t
		n.Enable = enable
		return tx.PutTraffic(&n)
	}
	return nil
}

// DeleteResult counts the clients a bulk delete removed.
type DeleteResult struct {
	Deleted int       `json:"deleted"`
	Skipped []Skipped `json:"skipped,omitempty"`
}

// BulkDelete deletes clients, with their usage unless keepTraffic is set.
func (s *Service) BulkDelete(emails []string, keepTraffic bool) (DeleteResult, error) {
	var res DeleteResult
	emails = cleanEmails(emails)
	_, err := s.batch(len(emails), func(tx *kv.Tx, i int) error {
		c, err := tx.ClientByEmail(emails[i])
		if err != nil {
			return err
		}
		if c == nil {
			res.Skipped = append(res.Skipped, Skipped{emails[i], "client not found"})
			return nil
		}
		res.Deleted++
		return s.deleteClient(tx, c, keepTraffic)
	})
	return res, err
}

// CreateResult counts the clients a bulk create or import stored.
type CreateResult struct {
	Created int       `json:"created"`
	Skipped []Skipped `json:"skipped,omitempty"`
}

// BulkCreate adds clients as AddClient does, each on its own: one that is
// refused is listed with the reason and the others are stored. Emails are
// trimmed first; two items with the same email, or one subId under two
// emails, refuse the later item.
func (s *Service) BulkCreate(items []AddRequest) (CreateResult, error) {
	reasons := s.vetItems(items, screenItems(items, true))
	results, err := s.batch(len(items), func(tx *kv.Tx, i int) error {
		if reasons[i] != nil {
			return reasons[i]
		}
		return s.addClient(tx, &items[i].Client, uniqueIDs(items[i].InboundIDs))
	})
	if err != nil {
		return CreateResult{}, err
	}
	return tally(items, results), nil
}

// screenItems validates the items of a bulk create on their own and
// against each other, before any of them touches the store.
func screenItems(items []AddRequest, needInbounds bool) []error {
	reasons := make([]error, len(items))
	seenEmail := map[string]bool{}
	subOwner := map[string]string{}
	for i := range items {
		in := &items[i].Client
		if in.Email != nil {
			trimmed := strings.TrimSpace(*in.Email)
			in.Email = &trimmed
		}
		if err := in.validate(); err != nil {
			reasons[i] = err
			continue
		}
		email, sub := kv.FoldEmail(*in.Email), str(in.SubID)
		switch {
		case needInbounds && len(items[i].InboundIDs) == 0:
			reasons[i] = refuse("at least one inbound is required")
		case seenEmail[email]:
			reasons[i] = refuse("email already in use: %s", *in.Email)
		case sub != "" && subOwner[sub] != "" && subOwner[sub] != email:
			reasons[i] = refuse("subId already in use: %s", sub)
		}
		if reasons[i] != nil {
			continue // a refused item claims neither its email nor its subId
		}
		seenEmail[email] = true
		if sub != "" && subOwner[sub] == "" {
			subOwner[sub] = email
		}
	}
	return reasons
}

func tally(items []AddRequest, results []error) CreateResult {
	var res CreateResult
	for i, err := range results {
		if err == nil {
			res.Created++
			continue
		}
		email := str(items[i].Client.Email)
		if strings.TrimSpace(email) == "" {
			email = missingEmail
		}
		res.Skipped = append(res.Skipped, Skipped{Email: email, Reason: err.Error()})
	}
	return res
}

// missingEmail stands in a skipped list for an item that had no email,
// as the mirrored API names it.
const missingEmail = "(missing email)"

// Import adds exported clients: those with inbounds as BulkCreate does,
// those without as bare records with no usage row.
func (s *Service) Import(data string) (CreateResult, error) {
	var items []AddRequest
	if err := json.Unmarshal([]byte(data), &items); err != nil {
		return CreateResult{}, refuse("%s", err.Error())
	}
	reasons := s.vetItems(items, screenItems(items, false))
	results, err := s.batch(len(items), func(tx *kv.Tx, i int) error {
		if reasons[i] != nil {
			return reasons[i]
		}
		if len(items[i].InboundIDs) > 0 {
			return s.addClient(tx, &items[i].Client, uniqueIDs(items[i].InboundIDs))
		}
		return s.addBare(tx, &items[i].Client)
	})
	if err != nil {
		return CreateResult{}, err
	}
	return tally(items, results), nil
}

// vetItems runs the before-hooks over every item that passed screening,
// so that a client created in bulk or by import obeys the same policy
// as one added alone, and returns the reasons with the refusals added.
func (s *Service) vetItems(items []AddRequest, reasons []error) []error {
	for i := range items {
		if reasons[i] == nil {
			reasons[i] = s.vetCreate(&items[i].Client, uniqueIDs(items[i].InboundIDs))
		}
	}
	return reasons
}

// addBare stores a client attached to nothing, refusing an email or
// subId in use.
func (s *Service) addBare(tx *kv.Tx, in *ClientInput) error {
	existing, err := tx.ClientByFold(*in.Email)
	if err != nil {
		return err
	}
	if existing != nil {
		return refuse("email already in use: %s", *in.Email)
	}
	c, _, err := s.clientToAdd(tx, in)
	if err != nil {
		return err
	}
	if err := checkSubID(tx, c); err != nil {
		return err
	}
	return tx.PutClient(c)
}

// PairResult reports a bulk attach or detach per email and inbound.
type PairResult struct {
	Done    []string `json:"-"`
	Skipped []string `json:"skipped"`
	Errors  []string `json:"errors"`
}

// BulkAttach attaches every listed client to every listed inbound, each
// pair on its own. Done and Skipped list one email per pair.
func (s *Service) BulkAttach(emails []string, inboundIDs []int64) (PairResult, error) {
	var res PairResult
	clients, inbounds := s.resolvePairs(emails, inboundIDs, &res)
	type pair struct {
		email string
		id    int64
	}
	var pairs []pair
	for _, id := range inbounds {
		for _, email := range clients {
			pairs = append(pairs, pair{email, id})
		}
	}
	results, err := s.batch(len(pairs), func(tx *kv.Tx, i int) error {
		c, err := tx.ClientByEmail(pairs[i].email)
		if err != nil || c == nil {
			return refuse("record not found")
		}
		if _, ok := c.Attachment(pairs[i].id); ok {
			res.Skipped = append(res.Skipped, c.Email)
			return nil
		}
		if err := s.attach(tx, c, []int64{pairs[i].id}); err != nil {
			return err
		}
		res.Done = append(res.Done, c.Email)
		return nil
	})
	for i, e := range results {
		if e != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("inbound %d: %s: %v", pairs[i].id, pairs[i].email, e))
		}
	}
	return res, err
}

// resolvePairs dedupes emails ignoring case and drops the unknown ones
// and unknown inbounds, noting each in res.Errors.
func (s *Service) resolvePairs(emails []string, ids []int64, res *PairResult) ([]string, []int64) {
	var clients []string
	var inbounds []int64
	seen := map[string]bool{}
	s.store.View(func(v *kv.View) error {
		for _, e := range cleanEmails(emails) {
			if seen[kv.FoldEmail(e)] {
				continue
			}
			seen[kv.FoldEmail(e)] = true
			if v.ClientByEmail(e) == nil {
				res.Errors = append(res.Errors, e+": record not found")
				continue
			}
			clients = append(clients, e)
		}
		for _, id := range uniqueIDs(ids) {
			if v.Inbound(id) == nil {
				res.Errors = append(res.Errors, fmt.Sprintf("inbound %d: record not found", id))
				continue
			}
			inbounds = append(inbounds, id)
		}
		return nil
	})
	return clients, inbounds
}

// BulkDetach detaches every listed client from the listed inbounds it is
// on. Done lists each client detached once; Skipped the clients on none.
func (s *Service) BulkDetach(emails []string, inboundIDs []int64) (PairResult, error) {
	var res PairResult
	clients, _ := s.resolvePairs(emails, nil, &res)
	ids := uniqueIDs(inboundIDs)
	results, err := s.batch(len(clients), func(tx *kv.Tx, i int) error {
		c, err := tx.ClientByEmail(clients[i])
		if err != nil || c == nil {
			return refuse("record not found")
		}
		on := false
		for _, id := range ids {
			_, ok := c.Attachment(id)
			on = on || ok
		}
		if !on {
			res.Skipped = append(res.Skipped, c.Email)
			return nil
		}
		if err := s.detach(tx, c, ids); err != nil {
			return err
		}
		res.Done = append(res.Done, c.Email)
		return nil
	})
	for i, e := range results {
		if e != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", clients[i], e))
		}
	}
	return res, err
}
