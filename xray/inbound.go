package xray

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/xpanel/xpanel/kv"
	"github.com/xtls/xray-core/common/protocol"
	"github.com/xtls/xray-core/common/serial"
	"github.com/xtls/xray-core/core"
	"github.com/xtls/xray-core/infra/conf"
	"github.com/xtls/xray-core/proxy/shadowsocks"
	"github.com/xtls/xray-core/proxy/shadowsocks_2022"
	"github.com/xtls/xray-core/proxy/trojan"
	vlessin "github.com/xtls/xray-core/proxy/vless/inbound"
	vmessin "github.com/xtls/xray-core/proxy/vmess/inbound"
	"google.golang.org/protobuf/proto"
)

// spec is what the core needs to know of an inbound to build its users.
type spec struct {
	protocol string
	ss2022   bool                   // Shadowsocks 2022: users carry keys
	cipher   shadowsocks.CipherType // legacy Shadowsocks cipher
}

// specOf reads the user-related settings of an inbound.
func specOf(in *kv.Inbound) (*spec, error) {
	s := &spec{protocol: strings.ToLower(in.Protocol)}
	switch s.protocol {
	case "vless", "vmess", "trojan":
		return s, nil
	case "shadowsocks":
	default:
		return nil, fmt.Errorf("protocol %q is not supported", in.Protocol)
	}

	var settings struct {
		Method string `json:"method"`
	}
	if err := json.Unmarshal(orEmpty(in.Settings), &settings); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if strings.HasPrefix(settings.Method, "2022-") {
		s.ss2022 = true
		return s, nil
	}
	if s.cipher = cipherOf(settings.Method); s.cipher == shadowsocks.CipherType_UNKNOWN {
		return nil, fmt.Errorf("shadowsocks method %q is not supported", settings.Method)
	}
	return s, nil
}

// rebuildAbove is how many user changes one commit may make one by one
// on an inbound of this kind holding users users before it is rebuilt
// instead. A single change costs about what one user costs in a
// rebuild, so a rebuild pays only when the changes outnumber half the
// users: a bulk create of a few thousand clients into an inbound of
// 100,000 is applied one by one, not by rebuilding the whole inbound
// per commit, which made such an import quadratic.
//
// Shadowsocks 2022 inbounds are always rebuilt: the core swaps their key
// tables on a single change without a lock while connections read them
// (a data race `go test -race` reports), and a rebuild gives new
// connections a new table instead.
//
// TODO(ss2022-speed): a rebuild at 10,000 users takes about 34 ms on
// average but over 50 ms at p99 on a busy machine.
func (s *spec) rebuildAbove(users int) int {
	if s.ss2022 {
		return 0
	}
	return max(rebuildAbove, users/2)
}

// buildInbound turns an inbound, in the shape the API stores it, into the
// core's handler config, with users as its only clients. Everything but
// the users goes through Xray's own JSON config builder, so transports,
// TLS, REALITY and sniffing mean exactly what they mean to Xray.
func buildInbound(in *kv.Inbound, sp *spec, users []*protocol.User) (*core.InboundHandlerConfig, error) {
	raw, err := detourJSON(in)
	if err != nil {
		return nil, err
	}
	var detour conf.InboundDetourConfig
	if err := json.Unmarshal(raw, &detour); err != nil {
		return nil, fmt.Errorf("inbound %d: %w", in.ID, err)
	}
	hc, err := detour.Build()
	if err != nil {
		return nil, fmt.Errorf("inbound %d: %w", in.ID, err)
	}

	settings, err := hc.ProxySettings.GetInstance()
	if err != nil {
		return nil, fmt.Errorf("inbound %d: proxy settings: %w", in.ID, err)
	}
	withUsers, err := setUsers(settings, sp, users)
	if err != nil {
		return nil, fmt.Errorf("inbound %d: %w", in.ID, err)
	}
	hc.ProxySettings = serial.ToTypedMessage(withUsers)
	return hc, nil
}

// detourJSON renders an inbound as an Xray inbound object with an empty
// clients list; the users are set on the built config.
func detourJSON(in *kv.Inbound) ([]byte, error) {
	settings := map[string]json.RawMessage{}
	if err := json.Unmarshal(orEmpty(in.Settings), &settings); err != nil {
		return nil, fmt.Errorf("inbound %d settings: %w", in.ID, err)
	}
	settings["clients"] = json.RawMessage("[]")

	obj := map[string]any{
		"tag":      in.Tag,
		"protocol": strings.ToLower(in.Protocol),
		"port":     in.Port,
		"settings": settings,
	}
	if in.Listen != "" {
		obj["listen"] = in.Listen
	}
	if len(in.StreamSettings) > 0 && string(in.StreamSettings) != "null" {
		obj["streamSettings"] = json.RawMessage(in.StreamSettings)
	}
	if len(in.Sniffing) > 0 && string(in.Sniffing) != "null" {
		obj["sniffing"] = json.RawMessage(in.Sniffing)
	}
	return json.Marshal(obj)
}

// setUsers puts users into a built proxy config. A Shadowsocks 2022
// config built without users is a single-user server that anyone with
// the server key may use; it becomes a multi-user one here.
func setUsers(settings proto.Message, sp *spec, users []*protocol.User) (proto.Message, error) {
	switch c := settings.(type) {
	case *vlessin.Config:
		c.Clients = users
	case *vmessin.Config:
		c.User = users
	case *trojan.ServerConfig:
		c.Users = users
	case *shadowsocks.ServerConfig:
		c.Users = users
	case *shadowsocks_2022.MultiUserServerConfig:
		c.Users = users
	case *shadowsocks_2022.ServerConfig:
		return &shadowsocks_2022.MultiUserServerConfig{
			Method: c.Method, Key: c.Key, Network: c.Network, Users: users}, nil
	default:
		return nil, fmt.Errorf("%s inbound config %T takes no users", sp.protocol, settings)
	}
	return settings, nil
}

func orEmpty(raw []byte) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return []byte("{}")
	}
	return raw
}
