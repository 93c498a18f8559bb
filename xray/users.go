package xray

import (
	"fmt"
	"strings"

	"github.com/xpanel/xpanel/kv"
	"github.com/xtls/xray-core/common/protocol"
	"github.com/xtls/xray-core/common/serial"
	"github.com/xtls/xray-core/proxy/shadowsocks"
	"github.com/xtls/xray-core/proxy/shadowsocks_2022"
	"github.com/xtls/xray-core/proxy/trojan"
	"github.com/xtls/xray-core/proxy/vless"
	"github.com/xtls/xray-core/proxy/vmess"
	"google.golang.org/protobuf/proto"
)

// userLevel is the policy level every user runs at; the policy of this
// level turns on the per-user counters.
const userLevel = 0

// visionFlow is the only XTLS flow the core knows; the -udp443 variant
// the panel stores is a client-side hint and runs as plain Vision.
const visionFlow = "xtls-rprx-vision"

// account builds the credentials a client presents on an inbound. The
// same client yields different accounts on different inbounds: the flow
// is per attachment and a Shadowsocks cipher per inbound.
func (s *spec) account(c *kv.Client, flow string) (proto.Message, error) {
	switch s.protocol {
	case "vless":
		if strings.HasPrefix(flow, visionFlow) {
			flow = visionFlow
		}
		return &vless.Account{Id: c.UUID, Flow: flow}, nil
	case "vmess":
		return &vmess.Account{Id: c.UUID, SecuritySettings: &protocol.SecurityConfig{
			Type: protocol.SecurityType_AUTO}}, nil
	case "trojan":
		return &trojan.Account{Password: c.Password}, nil
	case "shadowsocks":
		if s.ss2022 {
			return &shadowsocks_2022.Account{Key: c.Password}, nil
		}
		return &shadowsocks.Account{Password: c.Password, CipherType: s.cipher}, nil
	}
	return nil, fmt.Errorf("protocol %q has no users", s.protocol)
}

// user builds the core's user object for a client on an inbound.
func (s *spec) user(c *kv.Client, flow string) (*protocol.User, error) {
	acc, err := s.account(c, flow)
	if err != nil {
		return nil, err
	}
	return &protocol.User{Email: c.Email, Level: userLevel, Account: serial.ToTypedMessage(acc)}, nil
}

// heldAs is what the core holds for a client on an inbound.
func heldAs(c *kv.Client, flow string) user {
	return user{email: c.Email, uuid: c.UUID, password: c.Password, flow: flow}
}

// cipherOf maps a legacy Shadowsocks method name to the core's cipher.
func cipherOf(method string) shadowsocks.CipherType {
	switch strings.ToLower(method) {
	case "aes-128-gcm":
		return shadowsocks.CipherType_AES_128_GCM
	case "aes-256-gcm":
		return shadowsocks.CipherType_AES_256_GCM
	case "chacha20-poly1305", "chacha20-ietf-poly1305":
		return shadowsocks.CipherType_CHACHA20_POLY1305
	case "xchacha20-poly1305", "xchacha20-ietf-poly1305":
		return shadowsocks.CipherType_XCHACHA20_POLY1305
	}
	return shadowsocks.CipherType_UNKNOWN
}
