package panel

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
)

// InboundInput is an inbound as request bodies carry it. Settings,
// StreamSettings and Sniffing arrive as objects or as JSON-encoded
// strings.
type InboundInput struct {
	Remark          string          `json:"remark"`
	Enable          *bool           `json:"enable"`
	Listen          string          `json:"listen"`
	Port            int             `json:"port"`
	Protocol        string          `json:"protocol"`
	ExpiryTime      int64           `json:"expiryTime"`
	Total           int64           `json:"total"`
	Settings        json.RawMessage `json:"settings"`
	StreamSettings  json.RawMessage `json:"streamSettings"`
	Sniffing        json.RawMessage `json:"sniffing"`
	Tag             string          `json:"tag"`
	TrafficReset    string          `json:"trafficReset"`
	TrafficResetDay int             `json:"trafficResetDay"`
	DisableFlow     bool            `json:"disableFlow"`
	ShareAddr       string          `json:"shareAddr"`
}

// inboundPlan is a validated inbound input: the record to store and the
// clients its settings carried, if it carried a clients array.
type inboundPlan struct {
	in         *kv.Inbound
	clients    []ClientInput
	hasClients bool
}

// plan validates the input and builds the record it describes.
func (input *InboundInput) plan() (*inboundPlan, error) {
	if err := input.check(); err != nil {
		return nil, err
	}
	settings, err := objectOf("settings", input.Settings)
	if err != nil {
		return nil, err
	}
	stream, err := objectOf("streamSettings", input.StreamSettings)
	if err != nil {
		return nil, err
	}
	sniffing, err := objectOf("sniffing", input.Sniffing)
	if err != nil {
		return nil, err
	}

	p := &inboundPlan{}
	if raw, ok := settings["clients"]; ok {
		p.hasClients = true
		if err := json.Unmarshal(raw, &p.clients); err != nil {
			return nil, refuse("settings.clients must be an array of clients: %v", err)
		}
		delete(settings, "clients")
	}
	if err := checkProtocolSettings(input.Protocol, settings); err != nil {
		return nil, err
	}
	network, err := checkStream(stream)
	if err != nil {
		return nil, err
	}

	p.in = &kv.Inbound{
		Remark: input.Remark, Enable: input.Enable == nil || *input.Enable,
		Listen: input.Listen, Port: input.Port, Protocol: input.Protocol,
		ExpiryTime: input.ExpiryTime, Total: input.Total, Tag: input.Tag,
		TrafficReset: input.TrafficReset, TrafficResetDay: input.TrafficResetDay,
		DisableFlow: input.DisableFlow, ShareAddr: strings.TrimSpace(input.ShareAddr),
		Settings: mustJSON(settings), StreamSettings: mustJSON(stream),
		Sniffing: mustJSON(sniffing),
	}
	if p.in.Tag == "" {
		p.in.Tag = fmt.Sprintf("in-%d-%s", input.Port, network)
	}
	normalizeInboundCycle(p.in)
	return p, nil
}

func (input *InboundInput) check() error {
	switch input.Protocol {
	case VLESS, VMess, Trojan, Shadowsocks:
	case "":
		return refuse("inbound protocol is required")
	default:
		return refuse("inbound protocol %q is not supported; use vless, vmess, trojan or shadowsocks", input.Protocol)
	}
	if input.Port < 1 || input.Port > 65535 {
		return refuse("inbound port must be between 1 and 65535, got: %d", input.Port)
	}
	if input.Listen != "" && net.ParseIP(input.Listen) == nil {
		return refuse("inbound listen must be empty or an IP address, got: %s", input.Listen)
	}
	if !validShareAddr(strings.TrimSpace(input.ShareAddr)) {
		return refuse("inbound shareAddr must be empty or a host name or IP address without port, got: %s", input.ShareAddr)
	}
	if input.Total < 0 {
		return refuse("inbound total must not be negative, got: %d", input.Total)
	}
	if len(input.Remark) > maxCommentLen || len(input.Tag) > maxGroupLen {
		return refuse("inbound remark or tag is too long")
	}
	if strings.ContainsFunc(input.Tag, func(r rune) bool { return r <= ' ' || r == '/' }) {
		return refuse("inbound tag contains an invalid character: %s", input.Tag)
	}
	switch input.TrafficReset {
	case "", "never", "hourly", "daily", "weekly", "monthly":
	default:
		return refuse("inbound trafficReset must be never, hourly, daily, weekly or monthly, got: %s", input.TrafficReset)
	}
	return nil
}

// validShareAddr reports whether s is empty, an IP address or a DNS
// name: what a share link can carry as its host.
func validShareAddr(s string) bool {
	if s == "" || net.ParseIP(s) != nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(":/@?#[]\\%", r)
	})
}

func normalizeInboundCycle(in *kv.Inbound) {
	if in.TrafficReset == "" {
		in.TrafficReset = "never"
	}
	if in.TrafficResetDay <= 0 || in.TrafficResetDay > 31 {
		in.TrafficResetDay = 1
	}
}

// objectOf decodes a JSON object that may arrive JSON-encoded in a
// string. Absent or null gives an empty object.
func objectOf(field string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, refuse("%s must be a JSON object", field)
		}
		raw = bytes.TrimSpace([]byte(text))
	}
	obj := map[string]json.RawMessage{}
	if len(raw) == 0 || string(raw) == "null" {
		return obj, nil
	}
	if raw[0] != '{' {
		return nil, refuse("%s must be a JSON object", field)
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, refuse("%s must be a JSON object: %v", field, err)
	}
	return obj, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode a decoded object: %v", err))
	}
	return b
}

// checkProtocolSettings validates the inbound-level settings the clients
// API relies on and fills in the ones with a safe default.
func checkProtocolSettings(protocol string, settings map[string]json.RawMessage) error {
	var s inboundSettings
	_ = json.Unmarshal(mustJSON(settings), &s)
	switch protocol {
	case VLESS:
		if s.Decryption == "" {
			settings["decryption"] = json.RawMessage(`"none"`)
		}
	case Shadowsocks:
		n, ok := shadowsocksKeyLen[s.Method]
		if !ok {
			return refuse("shadowsocks method %q is not supported", s.Method)
		}
		if n > 0 && s.Password == "" {
			settings["password"] = mustJSON(newKey(n))
		} else if n > 0 && !validKey(s.Password, n) {
			return refuse("shadowsocks password must be a base64 key of %d bytes for %s", n, s.Method)
		}
	}
	return nil
}

// checkStream validates the transport and security and returns the
// transport's name.
func checkStream(stream map[string]json.RawMessage) (string, error) {
	var s streamSettings
	_ = json.Unmarshal(mustJSON(stream), &s)
	switch s.Network {
	case "":
		s.Network = "tcp"
	case "tcp", "raw", "ws", "grpc", "httpupgrade", "xhttp", "kcp":
	default:
		return "", refuse("streamSettings.network %q is not supported", s.Network)
	}
	switch s.Security {
	case "", "none", "tls":
	case "reality":
		// The core runs REALITY over these transports only; an inbound
		// stored with another could never start, nor its links connect.
		if !slices.Contains([]string{"tcp", "raw", "xhttp", "grpc"}, s.Network) {
			return "", refuse("streamSettings.security reality works only over tcp, raw, xhttp and grpc, not %s", s.Network)
		}
	default:
		return "", refuse("streamSettings.security %q is not supported", s.Security)
	}
	return s.Network, nil
}

// AddInbound stores a new inbound and the clients its settings carry,
// all or nothing. It returns the stored inbound.
func (s *Service) AddInbound(input *InboundInput) (*kv.Inbound, error) {
	p, err := input.plan()
	if err != nil {
		return nil, err
	}
	if err := s.vetInboundClients(p, nil); err != nil {
		return nil, err
	}
	now := s.nowMs()
	p.in.CreatedAt, p.in.UpdatedAt = now, now
	err = s.update(func(tx *kv.Tx) error {
		if err := checkPort(tx, p.in); err != nil {
			return err
		}
		if err := tx.PutInbound(p.in); err != nil {
			return err
		}
		return s.syncInboundClients(tx, p)
	})
	if err != nil {
		return nil, err
	}
	return p.in, nil
}

// UpdateInbound replaces an inbound. When its settings carry a clients
// array, the listed clients are added or re-added to it as AddClient
// does and clients missing from the array are detached from it.
func (s *Service) UpdateInbound(id int64, input *InboundInput) (*kv.Inbound, error) {
	p, err := input.plan()
	if err != nil {
		return nil, err
	}
	if err := s.vetInboundClients(p, []int64{id}); err != nil {
		return nil, err
	}
	err = s.update(func(tx *kv.Tx) error {
		old := tx.Inbound(id)
		if old == nil {
			return refuse("inbound %d not found", id)
		}
		p.in.ID, p.in.Up, p.in.Down = id, old.Up, old.Down
		p.in.CreatedAt, p.in.UpdatedAt = old.CreatedAt, s.nowMs()
		p.in.LastTrafficResetTime = old.LastTrafficResetTime
		if err := checkPort(tx, p.in); err != nil {
			return err
		}
		if err := tx.PutInbound(p.in); err != nil {
			return err
		}
		if err := s.reflowMembers(tx, p.in); err != nil {
			return err
		}
		return s.syncInboundClients(tx, p)
	})
	if err != nil {
		return nil, err
	}
	return p.in, nil
}

// vetInboundClients runs the Gate over the clients an inbound's settings
// carry, before the transaction, as clients/add and clients/update do: a
// new email as a create, a known one as an update. ids are the inbounds
// a new client joins, nil while the inbound has no id yet.
func (s *Service) vetInboundClients(p *inboundPlan, ids []int64) error {
	if !p.hasClients || s.gate.g.Load() == nil {
		return nil
	}
	for i := range p.clients {
		in := &p.clients[i]
		if in.Email == nil {
			continue // the transaction refuses it
		}
		var known bool
		s.store.View(func(v *kv.View) error {
			known = v.ClientByEmail(*in.Email) != nil
			return nil
		})
		var err error
		if known {
			err = s.vetUpdate(*in.Email, in)
		} else {
			err = s.vetCreate(in, ids)
		}
		if err != nil {
			return fmt.Errorf("client %s: %w", *in.Email, err)
		}
	}
	return nil
}

// checkPort refuses a port that another enabled inbound listens on.
func checkPort(tx *kv.Tx, in *kv.Inbound) error {
	if !in.Enable {
		return nil
	}
	for _, other := range tx.EnabledInboundsOnPort(in.Port) {
		if other != in.ID {
			return refuse("port %d is already in use by inbound %d", in.Port, other)
		}
	}
	return nil
}

// syncInboundClients adds the clients an inbound's settings carried and
// detaches the members the array left out.
func (s *Service) syncInboundClients(tx *kv.Tx, p *inboundPlan) error {
	if !p.hasClients {
		return nil
	}
	listed := map[string]bool{}
	for i := range p.clients {
		in := &p.clients[i]
		if err := in.validate(); err != nil {
			return err
		}
		listed[kv.FoldEmail(*in.Email)] = true
		if err := s.addClient(tx, in, []int64{p.in.ID}); err != nil {
			return fmt.Errorf("client %s: %w", *in.Email, err)
		}
	}
	for _, c := range tx.ClientsInInbound(p.in.ID) {
		if !listed[kv.FoldEmail(c.Email)] {
			if err := s.detach(tx, c, []int64{p.in.ID}); err != nil {
				return err
			}
		}
	}
	return nil
}

// reflowMembers recomputes the flow and credentials of an edited
// inbound's members: its transport may now carry a flow, or not, and a
// new Shadowsocks method may need another key.
func (s *Service) reflowMembers(tx *kv.Tx, in *kv.Inbound) error {
	for _, c := range tx.ClientsInInbound(in.ID) {
		profiles, err := loadProfiles(tx, c.InboundIDs())
		if err != nil {
			return err
		}
		n := c.Clone()
		setFlows(n, profiles)
		// Only the member's other inbounds bind its password: the edited
		// one may need a new key for its new method.
		others := slices.DeleteFunc(slices.Clone(profiles), func(p profile) bool {
			return p.in.ID == in.ID
		})
		if err := fillCredentials(n, others, profiles); err != nil {
			return err
		}
		if err := tx.PutClient(n); err != nil {
			return err
		}
	}
	return nil
}

// DeleteInbound removes an inbound. Its clients stay, detached from it.
func (s *Service) DeleteInbound(id int64) error {
	return s.update(func(tx *kv.Tx) error {
		if tx.Inbound(id) == nil {
			return refuse("inbound %d not found", id)
		}
		for _, c := range tx.ClientsInInbound(id) {
			if err := s.detach(tx, c, []int64{id}); err != nil {
				return err
			}
		}
		return tx.DeleteInbound(id)
	})
}

// SetInboundEnabled enables or disables an inbound.
func (s *Service) SetInboundEnabled(id int64, enable bool) error {
	return s.update(func(tx *kv.Tx) error {
		old := tx.Inbound(id)
		if old == nil {
			return refuse("inbound %d not found", id)
		}
		if old.Enable == enable {
			return nil
		}
		n := *old
		n.Enable, n.UpdatedAt = enable, s.nowMs()
		if err := checkPort(tx, &n); err != nil {
			return err
		}
		return tx.PutInbound(&n)
	})
}
