package kv

import (
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
	json "github.com/goccy/go-json"
)

// txSoftLimit is the staged size past which Tx.Full reports true. Badger
// refuses a transaction over about 2.4 MiB with the memtables we use;
// stopping at half of that leaves room for the item in progress.
const txSoftLimit = 1 << 20

// Tx is a write transaction. It reads the committed state overlaid with
// its own staged changes and stages writes of records together with their
// index entries. A Tx is only valid inside the Update that made it.
type Tx struct {
	s       *Store
	id      uint64 // unique among the store's transactions
	txn     *badger.Txn
	clients map[int64]*Client // staged; nil marks a delete
	traffic map[string]*Traffic
	inbound map[int64]*Inbound
	groups  map[string]*Group
	ips     map[string][]IPEntry
	meta    map[string]string
	deleted map[string]bool    // ips and meta keys staged for removal
	subIDs  map[string][]int64 // subId -> ids of clients staged with it
	folds   map[string]int64   // folded email -> id of the client last staged with it
	usage   []usageEntry       // bytes staged by AddUsage, for the usage record
	whole   map[string]int     // email -> len(usage) when its row was last written whole
	size    int
	box     txOutbox
}

func newTx(s *Store) *Tx {
	s.txCount++
	return &Tx{
		s:       s,
		id:      s.txCount,
		txn:     s.db.NewTransaction(true),
		clients: map[int64]*Client{},
		traffic: map[string]*Traffic{},
		inbound: map[int64]*Inbound{},
		groups:  map[string]*Group{},
		ips:     map[string][]IPEntry{},
		meta:    map[string]string{},
		deleted: map[string]bool{},
		subIDs:  map[string][]int64{},
		folds:   map[string]int64{},
		whole:   map[string]int{},
	}
}

func (tx *Tx) empty() bool { return tx.size == 0 }

// Full reports whether the transaction has staged enough that a caller
// working through a batch should commit and continue in a new one.
func (tx *Tx) Full() bool { return tx.size >= txSoftLimit }

func (tx *Tx) set(key, val []byte) error {
	tx.size += len(key) + len(val) + 32
	if err := tx.txn.Set(key, val); err != nil {
		return fmt.Errorf("stage %q: %w", key[:1], err)
	}
	return nil
}

func (tx *Tx) del(key []byte) error {
	tx.size += len(key) + 32
	if err := tx.txn.Delete(key); err != nil {
		return fmt.Errorf("stage delete %q: %w", key[:1], err)
	}
	return nil
}

func (tx *Tx) putJSON(key []byte, v any) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	return tx.set(key, b)
}

// NextID returns the next value of the named sequence, starting at 1.
func (tx *Tx) NextID(name string) (int64, error) {
	key := nameKey(pSequence, name)
	var next int64 = 1
	item, err := tx.txn.Get(key)
	switch {
	case err == nil:
		err = item.Value(func(v []byte) error { next = idFromTail(v) + 1; return nil })
		if err != nil {
			return 0, fmt.Errorf("read sequence %s: %w", name, err)
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return 0, fmt.Errorf("read sequence %s: %w", name, err)
	}
	return next, tx.set(key, u64(next))
}

// lookup returns the owner id stored under a unique index key.
func (tx *Tx) lookup(key string) (int64, bool, error) {
	item, err := tx.txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read index: %w", err)
	}
	var id int64
	err = item.Value(func(v []byte) error { id = idFromTail(v); return nil })
	return id, err == nil, err
}

// scanIDs returns the ids at the end of every index key under prefix.
func (tx *Tx) scanIDs(prefix []byte) []int64 {
	it := tx.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var ids []int64
	for it.Rewind(); it.Valid(); it.Next() {
		ids = append(ids, idFromTail(it.Item().Key()))
	}
	return ids
}

// Client returns the client with the id, or nil.
func (tx *Tx) Client(id int64) *Client {
	if c, ok := tx.clients[id]; ok {
		return c
	}
	return tx.s.mem.clients[id]
}

// ClientByFold returns the client whose email equals email ignoring case.
// It reads the committed owner in memory and the client this transaction
// last staged with the email, rather than Badger's index: a traffic poll
// looks up every client that moved bytes, and a Badger read each made it
// several times slower. The email is unique, so at most one of the two
// candidates still carries it.
func (tx *Tx) ClientByFold(email string) (*Client, error) {
	fold := FoldEmail(email)
	for _, id := range [2]int64{tx.folds[fold], tx.s.mem.idByFold(fold)} {
		if c := tx.Client(id); c != nil && FoldEmail(c.Email) == fold {
			return c, nil
		}
	}
	return nil, nil
}

// ClientByEmail returns the client with exactly this email, or nil.
func (tx *Tx) ClientByEmail(email string) (*Client, error) {
	c, err := tx.ClientByFold(email)
	if c == nil || c.Email != email {
		return nil, err
	}
	return c, err
}

// ClientsBySubID returns the clients sharing the subscription id, by id.
// It reads the committed index in memory plus the clients this
// transaction staged, not a Badger iterator: Badger sorts every pending
// write each time an iterator opens, which would make a bulk insert,
// where every item checks its subId, quadratic in the batch size.
func (tx *Tx) ClientsBySubID(subID string) []*Client {
	ids := append(slices.Clone(tx.s.mem.bySubID[subID]), tx.subIDs[subID]...)
	slices.Sort(ids)
	var out []*Client
	for _, id := range slices.Compact(ids) {
		if c := tx.Client(id); c != nil && c.SubID == subID {
			out = append(out, c)
		}
	}
	return out
}

// ClientsInInbound returns the clients attached to the inbound.
func (tx *Tx) ClientsInInbound(inboundID int64) []*Client {
	return tx.clientsAt(multiKey(xMember, u64(inboundID)))
}

// ClientsInGroup returns the clients whose label folds to group.
func (tx *Tx) ClientsInGroup(group string) []*Client {
	return tx.clientsAt(multiKey(xGroup, []byte(FoldGroup(group)), []byte{0}))
}

func (tx *Tx) clientsAt(prefix string) []*Client {
	var out []*Client
	for _, id := range tx.scanIDs([]byte(prefix)) {
		if c := tx.Client(id); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// CredentialOwner returns the id of the client holding a credential:
// kind is "uuid", "password" or "auth". UUIDs compare as the core does.
func (tx *Tx) CredentialOwner(kind, value string) (int64, bool, error) {
	switch kind {
	case "uuid":
		return tx.lookup(multiKey(xUUID, []byte(UUIDKey(value))))
	case "password":
		return tx.lookup(multiKey(xPassword, []byte(value)))
	case "auth":
		return tx.lookup(multiKey(xAuth, []byte(value)))
	}
	return 0, false, fmt.Errorf("kv: unknown credential kind %q", kind)
}

// PutClient stores c and its index entries. A zero ID assigns the next
// one. The caller must not modify c afterwards.
func (tx *Tx) PutClient(c *Client) error {
	if c.ID == 0 {
		id, err := tx.NextID("client")
		if err != nil {
			return err
		}
		c.ID = id
	}
	slices.SortFunc(c.Inbounds, func(a, b Attachment) int { return int(a.InboundID - b.InboundID) })

	old := tx.Client(c.ID)
	var before []indexKey
	if old != nil {
		before = clientIndexes(old)
	}
	after := clientIndexes(c)
	if err := tx.reindex(before, after); err != nil {
		return err
	}
	tx.clients[c.ID] = c
	tx.folds[FoldEmail(c.Email)] = c.ID
	if c.SubID != "" {
		tx.subIDs[c.SubID] = append(tx.subIDs[c.SubID], c.ID)
	}
	b, err := encodeClient(c)
	if err != nil {
		return err
	}
	return tx.set(recordKey(pClient, c.ID), b)
}

// DeleteClient removes the client and its index entries. Its traffic row
// is left alone.
func (tx *Tx) DeleteClient(id int64) error {
	old := tx.Client(id)
	if old == nil {
		return ErrNotFound
	}
	if err := tx.reindex(clientIndexes(old), nil); err != nil {
		return err
	}
	tx.clients[id] = nil
	return tx.del(recordKey(pClient, id))
}

// reindex stages the difference between two sets of index entries. Every
// unique entry is checked before anything is staged, so a collision
// leaves the transaction as it was.
func (tx *Tx) reindex(before, after []indexKey) error {
	had, keep := keySet(before), keySet(after)
	var added []indexKey
	for _, k := range after {
		if !had(k.key) {
			added = append(added, k)
		}
	}
	if err := tx.checkUnique(added); err != nil {
		return err
	}

	for _, k := range before {
		if keep(k.key) {
			continue
		}
		if err := tx.del([]byte(k.key)); err != nil {
			return err
		}
	}
	for _, k := range added {
		val := []byte(nil)
		if k.unique {
			val = u64(k.owner)
		}
		if err := tx.set([]byte(k.key), val); err != nil {
			return err
		}
	}
	return nil
}

// keySet returns a membership test over the keys of entries. A usage
// row's few entries, re-indexed on every traffic poll, are searched in
// place rather than hashed into a map.
func keySet(entries []indexKey) func(key string) bool {
	if len(entries) <= 8 {
		return func(key string) bool {
			return slices.ContainsFunc(entries, func(k indexKey) bool { return k.key == key })
		}
	}
	set := make(map[string]bool, len(entries))
	for _, k := range entries {
		set[k.key] = true
	}
	return func(key string) bool { return set[key] }
}

func (tx *Tx) checkUnique(keys []indexKey) error {
	for _, k := range keys {
		if !k.unique {
			continue
		}
		owner, ok, err := tx.lookup(k.key)
		if err != nil {
			return err
		}
		if ok && owner != k.owner {
			return &UniqueError{Index: uniqueIndexName(k.key[0]), Owner: owner}
		}
	}
	return nil
}

func uniqueIndexName(prefix byte) string {
	switch prefix {
	case xEmail:
		return "email"
	case xUUID:
		return "uuid"
	case xPassword:
		return "password"
	case xAuth:
		return "auth"
	case xTag:
		return "tag"
	}
	return string(prefix)
}

// Traffic returns the usage row of exactly this email, or nil.
func (tx *Tx) Traffic(email string) *Traffic {
	if t, ok := tx.traffic[email]; ok {
		return t
	}
	slot := tx.s.mem.traffic[email]
	if slot == nil {
		return nil
	}
	if t, ok := tx.pendingTraffic(slot); ok {
		return t
	}
	return slot.t
}

// PutTraffic stores a usage row whole. A zero ID assigns the next one.
// Bytes that AddUsage staged for the row in this transaction are part of
// t now, so they leave this commit's usage record.
func (tx *Tx) PutTraffic(t *Traffic) error {
	if t.ID == 0 {
		id, err := tx.NextID("traffic")
		if err != nil {
			return err
		}
		t.ID = id
	}
	tx.traffic[t.Email] = t
	tx.whole[t.Email] = len(tx.usage)
	return tx.putJSON(nameKey(pTraffic, t.Email), storedTraffic{Traffic: t, Through: tx.s.usage.seq})
}

// DeleteTraffic removes the usage row of the email, if there is one.
func (tx *Tx) DeleteTraffic(email string) error {
	if tx.Traffic(email) == nil {
		return nil
	}
	tx.traffic[email] = nil
	tx.whole[email] = len(tx.usage)
	return tx.del(nameKey(pTraffic, email))
}

// Inbound returns the inbound with the id, or nil.
func (tx *Tx) Inbound(id int64) *Inbound {
	if in, ok := tx.inbound[id]; ok {
		return in
	}
	return tx.s.mem.inbounds[id]
}

// InboundByTag returns the id of the inbound with the tag.
func (tx *Tx) InboundByTag(tag string) (int64, bool, error) {
	return tx.lookup(multiKey(xTag, []byte(tag)))
}

// EnabledInboundsOnPort returns the ids of enabled inbounds on the port.
func (tx *Tx) EnabledInboundsOnPort(port int) []int64 {
	p := []byte{byte(port >> 8), byte(port)}
	return tx.scanIDs([]byte(multiKey(xPort, p)))
}

// PutInbound stores an inbound and its index entries. A zero ID assigns
// the next one.
func (tx *Tx) PutInbound(in *Inbound) error {
	if in.ID == 0 {
		id, err := tx.NextID("inbound")
		if err != nil {
			return err
		}
		in.ID = id
	}
	var before []indexKey
	if old := tx.Inbound(in.ID); old != nil {
		before = inboundIndexes(old)
	}
	if err := tx.reindex(before, inboundIndexes(in)); err != nil {
		return err
	}
	tx.inbound[in.ID] = in
	return tx.putJSON(recordKey(pInbound, in.ID), in)
}

// DeleteInbound removes an inbound. Detaching its clients is the caller's
// job.
func (tx *Tx) DeleteInbound(id int64) error {
	old := tx.Inbound(id)
	if old == nil {
		return ErrNotFound
	}
	if err := tx.reindex(inboundIndexes(old), nil); err != nil {
		return err
	}
	tx.inbound[id] = nil
	return tx.del(recordKey(pInbound, id))
}

// Group returns the stored group with exactly this name, or nil.
func (tx *Tx) Group(name string) *Group {
	if g, ok := tx.groups[name]; ok {
		return g
	}
	return tx.s.mem.groups[name]
}

// PutGroup stores a group row.
func (tx *Tx) PutGroup(g *Group) error {
	tx.groups[g.Name] = g
	return tx.putJSON(nameKey(pGroup, g.Name), g)
}

// DeleteGroup removes a group row, if there is one.
func (tx *Tx) DeleteGroup(name string) error {
	if tx.Group(name) == nil {
		return nil
	}
	tx.groups[name] = nil
	return tx.del(nameKey(pGroup, name))
}

// IPs returns the source addresses recorded for the email.
func (tx *Tx) IPs(email string) []IPEntry {
	if v, ok := tx.ips[email]; ok || tx.deleted["ip:"+email] {
		return v
	}
	return tx.s.mem.ips[email]
}

// PutIPs replaces the source addresses recorded for the email; an empty
// list removes the record.
func (tx *Tx) PutIPs(email string, ips []IPEntry) error {
	if len(ips) == 0 {
		delete(tx.ips, email)
		tx.deleted["ip:"+email] = true
		return tx.del(nameKey(pIPs, email))
	}
	tx.ips[email] = ips
	delete(tx.deleted, "ip:"+email)
	return tx.putJSON(nameKey(pIPs, email), ips)
}

// Meta returns a stored setting, or "".
func (tx *Tx) Meta(key string) string {
	if v, ok := tx.meta[key]; ok {
		return v
	}
	return tx.s.mem.meta[key]
}

// PutMeta stores a setting.
func (tx *Tx) PutMeta(key, value string) error {
	tx.meta[key] = value
	return tx.set(nameKey(pMeta, key), []byte(value))
}

func decode[T any](item *badger.Item) (*T, error) {
	var v T
	err := item.Value(func(b []byte) error { return json.Unmarshal(b, &v) })
	if err != nil {
		return nil, fmt.Errorf("decode %q record: %w", item.Key()[:1], err)
	}
	return &v, nil
}
