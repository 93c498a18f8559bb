package panel

import (
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/xpanel/xpanel/kv"
)

// ClientInput is a client as request bodies carry it. A nil field was
// absent from the body: an add uses its default, an update keeps the
// stored value.
type ClientInput struct {
	UUID            *string     `json:"id"`
	Security        *string     `json:"security"`
	Password        *string     `json:"password"`
	Flow            *string     `json:"flow"`
	Reverse         *kv.Reverse `json:"reverse"`
	Auth            *string     `json:"auth"`
	Email           *string     `json:"email"`
	LimitIP         *int        `json:"limitIp"`
	LimitHwid       *int        `json:"limitHwid"`
	TotalGB         *int64      `json:"totalGB"`
	ExpiryTime      *int64      `json:"expiryTime"`
	Enable          *bool       `json:"enable"`
	TgID            *int64      `json:"tgId"`
	SubID           *string     `json:"subId"`
	Group           *string     `json:"group"`
	Comment         *string     `json:"comment"`
	Reset           *int        `json:"reset"`
	ResetDay        *int        `json:"resetDay"`
	ResetMax        *int        `json:"resetMax"`
	TrafficReset    *string     `json:"trafficReset"`
	TrafficResetDay *int        `json:"trafficResetDay"`
	CreatedAt       *int64      `json:"created_at"`
	UpdatedAt       *int64      `json:"updated_at"`
}

// Limits on free-text fields, so that one request cannot grow a record
// without bound.
const (
	maxEmailLen   = 255
	maxSubIDLen   = 128
	maxCommentLen = 4096
	maxGroupLen   = 128
	maxSecretLen  = 256
)

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// validate checks every field that is present.
func (in *ClientInput) validate() error {
	if in.Email == nil || strings.TrimSpace(*in.Email) == "" {
		return refuse("client email is required")
	}
	checks := []func() error{
		func() error { return checkIdentifier("email", *in.Email, maxEmailLen) },
		func() error { return checkIdentifier("subId", str(in.SubID), maxSubIDLen) },
		in.validateNumbers,
		in.validateCredentials,
		in.validateLabels,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// checkIdentifier refuses what cannot sit in a URL path segment or a log
// line: slashes, control characters and white space.
func checkIdentifier(field, v string, maxLen int) error {
	if len(v) > maxLen {
		return refuse("client %s is longer than %d bytes", field, maxLen)
	}
	for _, r := range v {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f || unicode.IsSpace(r) ||
			r == unicode.ReplacementChar {
			return refuse("client %s contains an invalid character: %s", field, v)
		}
	}
	return nil
}

func (in *ClientInput) validateNumbers() error {
	// A negative resetMax is worded as the mirrored API words it.
	if in.ResetMax != nil && *in.ResetMax < 0 {
		return refuse("client resetMax must not be negative, got: %d", *in.ResetMax)
	}
	type bound struct {
		name     string
		v        *int
		min, max int
	}
	for _, b := range []bound{
		{"resetDay", in.ResetDay, 0, 31},
		{"trafficResetDay", in.TrafficResetDay, 0, 31},
		{"resetMax", in.ResetMax, 0, 1 << 30},
		{"reset", in.Reset, 0, 1 << 20},
		{"limitIp", in.LimitIP, 0, 1 << 20},
	} {
		if b.v != nil && (*b.v < b.min || *b.v > b.max) {
			return refuse("client %s must be between %d and %d, got: %d", b.name, b.min, b.max, *b.v)
		}
	}
	if in.TotalGB != nil && *in.TotalGB < 0 {
		return refuse("client totalGB must not be negative, got: %d", *in.TotalGB)
	}
	if in.TgID != nil && *in.TgID < 0 {
		return refuse("client tgId must not be negative, got: %d", *in.TgID)
	}
	return nil
}

func (in *ClientInput) validateCredentials() error {
	if id := str(in.UUID); id != "" {
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			return refuse("client id must be a UUID: %s", id)
		}
	}
	for name, v := range map[string]string{"password": str(in.Password), "auth": str(in.Auth)} {
		if len(v) > maxSecretLen || strings.ContainsFunc(v, unicode.IsControl) {
			return refuse("client %s must be at most %d printable characters", name, maxSecretLen)
		}
	}
	if !validFlow(str(in.Flow)) {
		return refuse("client flow must be empty, xtls-rprx-vision or xtls-rprx-vision-udp443, got: %s", str(in.Flow))
	}
	switch str(in.Security) {
	case "", "auto", "none", "zero", "aes-128-gcm", "chacha20-poly1305":
	default:
		return refuse("client security must be auto, none, zero, aes-128-gcm or chacha20-poly1305, got: %s", str(in.Security))
	}
	return nil
}

func (in *ClientInput) validateLabels() error {
	switch str(in.TrafficReset) {
	case "", "never", "hourly", "daily", "weekly", "monthly":
	default:
		return refuse("client trafficReset must be never, hourly, daily, weekly or monthly, got: %s", str(in.TrafficReset))
	}
	if err := checkGroupName(str(in.Group)); err != nil {
		return err
	}
	if len(str(in.Comment)) > maxCommentLen {
		return refuse("client comment is longer than %d bytes", maxCommentLen)
	}
	if in.Reverse != nil && len(in.Reverse.Tag) > maxGroupLen {
		return refuse("client reverse tag is longer than %d bytes", maxGroupLen)
	}
	return nil
}

// checkGroupName refuses group names that could not travel in a URL path.
func checkGroupName(name string) error {
	if len(name) > maxGroupLen {
		return refuse("group name is longer than %d bytes", maxGroupLen)
	}
	if strings.ContainsFunc(name, func(r rune) bool {
		return r == '/' || r == '\\' || unicode.IsControl(r) || r == unicode.ReplacementChar
	}) {
		return refuse("group name contains an invalid character: %s", name)
	}
	return nil
}

func validFlow(flow string) bool {
	switch flow {
	case "", "xtls-rprx-vision", "xtls-rprx-vision-udp443":
		return true
	}
	return false
}

// apply writes the fields present in the input over c.
func (in *ClientInput) apply(c *kv.Client) {
	setStr(&c.Email, in.Email)
	setStr(&c.SubID, in.SubID)
	setStr(&c.UUID, in.UUID)
	setStr(&c.Password, in.Password)
	setStr(&c.Auth, in.Auth)
	setStr(&c.Flow, in.Flow)
	setStr(&c.Security, in.Security)
	setStr(&c.Group, in.Group)
	setStr(&c.Comment, in.Comment)
	setStr(&c.TrafficReset, in.TrafficReset)
	set(&c.LimitIP, in.LimitIP)
	set(&c.TotalGB, in.TotalGB)
	set(&c.ExpiryTime, in.ExpiryTime)
	set(&c.Enable, in.Enable)
	set(&c.TgID, in.TgID)
	set(&c.Reset, in.Reset)
	set(&c.ResetDay, in.ResetDay)
	set(&c.ResetMax, in.ResetMax)
	set(&c.TrafficResetDay, in.TrafficResetDay)
	if in.LimitHwid != nil {
		c.LimitHwid = max(*in.LimitHwid, 0)
	}
	if in.Reverse != nil {
		c.Reverse = nil
		if in.Reverse.Tag != "" {
			c.Reverse = &kv.Reverse{Tag: in.Reverse.Tag}
		}
	}
	normalizeCycle(c)
}

// normalizeCycle stores the traffic-reset period in its canonical form.
func normalizeCycle(c *kv.Client) {
	if c.TrafficReset == "" {
		c.TrafficReset = "never"
	}
	if c.TrafficResetDay == 0 {
		c.TrafficResetDay = 1
	}
}

func setStr(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
