package panel

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/xpanel/xpanel/kv"
)

// Protocols an inbound may use.
const (
	VLESS       = "vless"
	VMess       = "vmess"
	Trojan      = "trojan"
	Shadowsocks = "shadowsocks"
)

// shadowsocksKeyLen maps each Shadowsocks method this server accepts to
// the length of the base64 key its users need; 0 means any password.
var shadowsocksKeyLen = map[string]int{
	"aes-128-gcm":             0,
	"aes-256-gcm":             0,
	"chacha20-poly1305":       0,
	"chacha20-ietf-poly1305":  0,
	"xchacha20-poly1305":      0,
	"xchacha20-ietf-poly1305": 0,
	"2022-blake3-aes-128-gcm": 16,
	"2022-blake3-aes-256-gcm": 32,
}

// inboundSettings is the part of an inbound's settings and stream
// settings that decides what its clients need.
type inboundSettings struct {
	Method     string `json:"method"`
	Password   string `json:"password"`
	Decryption string `json:"decryption"`
	Encryption string `json:"encryption"`
}

type streamSettings struct {
	Network  string `json:"network"`
	Security string `json:"security"`
}

// profile is what the client operations need to know of one inbound.
type profile struct {
	in       *kv.Inbound
	settings inboundSettings
	stream   streamSettings
}

func profileOf(in *kv.Inbound) profile {
	p := profile{in: in}
	_ = json.Unmarshal(in.Settings, &p.settings)
	_ = json.Unmarshal(in.StreamSettings, &p.stream)
	if p.stream.Network == "" || p.stream.Network == "raw" {
		p.stream.Network = "tcp"
	}
	return p
}

// keyLen is the base64 key length the inbound's users need, or 0.
func (p profile) keyLen() int {
	if p.in.Protocol != Shadowsocks {
		return 0
	}
	return shadowsocksKeyLen[p.settings.Method]
}

// carriesFlow reports whether the inbound can carry an XTLS flow: VLESS
// over TLS or REALITY on TCP, or over XHTTP with VLESS encryption.
func (p profile) carriesFlow() bool {
	if p.in.Protocol != VLESS || p.in.DisableFlow {
		return false
	}
	switch p.stream.Network {
	case "tcp":
		return p.stream.Security == "tls" || p.stream.Security == "reality"
	case "xhttp":
		return encrypting(p.settings.Encryption) || encrypting(p.settings.Decryption)
	}
	return false
}

func encrypting(v string) bool {
	return v != "" && v != "none"
}

// flowOn is the flow the client uses on the inbound.
func (p profile) flowOn(flow string) string {
	if p.carriesFlow() {
		return flow
	}
	return ""
}

// needs reports which credential the inbound's users authenticate with.
func (p profile) needs() string {
	switch p.in.Protocol {
	case VLESS, VMess:
		return "uuid"
	case Trojan, Shadowsocks:
		return "password"
	}
	return ""
}

// validKey reports whether password is a base64 key of n bytes.
func validKey(password string, n int) bool {
	b, err := base64.StdEncoding.DecodeString(password)
	return err == nil && len(b) == n
}

func newKey(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func newSecret() string {
	return strings.ReplaceAll(uuid.NewString(), "-", "")
}

func newSubID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// LegacyMethod is the method a legacy Shadowsocks inbound's clients carry
// in its settings entries; "" for every other inbound.
func LegacyMethod(in *kv.Inbound) string {
	p := profileOf(in)
	if in.Protocol != Shadowsocks || p.keyLen() > 0 {
		return ""
	}
	return p.settings.Method
}
