package handlers

import (
	"errors"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
)

var errEmptyBody = errors.New("request body is empty")

// trafficJSON is a usage row as the API shows it, with the limits it is
// judged by copied from the client record.
type trafficJSON struct {
	ID           int64  `json:"id"`
	InboundID    int64  `json:"inboundId"`
	Enable       bool   `json:"enable"`
	Email        string `json:"email"`
	UUID         string `json:"uuid,omitempty"`
	SubID        string `json:"subId,omitempty"`
	Up           int64  `json:"up"`
	Down         int64  `json:"down"`
	ExpiryTime   int64  `json:"expiryTime"`
	Total        int64  `json:"total"`
	Reset        int    `json:"reset"`
	ResetDay     int    `json:"resetDay"`
	ResetMax     int    `json:"resetMax"`
	ResetCount   int    `json:"resetCount"`
	LastOnline   int64  `json:"lastOnline"`
	LastSubFetch int64  `json:"lastSubFetch"`
}

// trafficOf renders a usage row; c may be nil for a row kept after its
// client was deleted. withIDs adds the client's uuid and subId.
func trafficOf(t *kv.Traffic, c *kv.Client, withIDs bool) *trafficJSON {
	if t == nil {
		return nil
	}
	j := &trafficJSON{
		ID: t.ID, InboundID: t.InboundID, Enable: t.Enable, Email: t.Email,
		Up: t.Up, Down: t.Down, ResetCount: t.ResetCount,
		LastOnline: t.LastOnline, LastSubFetch: t.LastSubFetch,
	}
	if c != nil {
		j.ExpiryTime, j.Total = c.ExpiryTime, c.TotalGB
		j.Reset, j.ResetDay, j.ResetMax = c.Reset, c.ResetDay, c.ResetMax
		if withIDs {
			j.UUID, j.SubID = c.UUID, c.SubID
		}
	}
	return j
}

// clientRow is a client of the full list: the record with its inbounds
// and usage.
type clientRow struct {
	*kv.Client
	InboundIDs []int64      `json:"inboundIds"`
	Traffic    *trafficJSON `json:"traffic,omitempty"`
}

// clientDetail is the answer of get: the record, with the flow it uses,
// its inbounds, external links and used bytes.
type clientDetail struct {
	Client        *kv.Client        `json:"client"`
	InboundIDs    []int64           `json:"inboundIds"`
	ExternalLinks []kv.ExternalLink `json:"externalLinks"`
	UsedTraffic   int64             `json:"usedTraffic"`
}

func detailOf(c *kv.Client, t *kv.Traffic) clientDetail {
	shown := *c
	shown.Flow = panel.EffectiveFlow(c)
	d := clientDetail{Client: &shown, InboundIDs: c.InboundIDs(),
		ExternalLinks: c.Links, UsedTraffic: t.Used()}
	if d.InboundIDs == nil {
		d.InboundIDs = []int64{}
	}
	if d.ExternalLinks == nil {
		d.ExternalLinks = []kv.ExternalLink{}
	}
	return d
}

// slimClient is a client of a paged list: no secrets.
type slimClient struct {
	Email      string       `json:"email"`
	SubID      string       `json:"subId"`
	Enable     bool         `json:"enable"`
	TotalGB    int64        `json:"totalGB"`
	ExpiryTime int64        `json:"expiryTime"`
	LimitIP    int          `json:"limitIp"`
	LimitHwid  int          `json:"limitHwid"`
	Reset      int          `json:"reset"`
	ResetDay   int          `json:"resetDay"`
	ResetMax   int          `json:"resetMax"`
	Group      string       `json:"group,omitempty"`
	Comment    string       `json:"comment,omitempty"`
	InboundIDs []int64      `json:"inboundIds"`
	Traffic    *trafficJSON `json:"traffic,omitempty"`
	CreatedAt  int64        `json:"createdAt"`
	UpdatedAt  int64        `json:"updatedAt"`
}

func slimOf(c *kv.Client, t *kv.Traffic) slimClient {
	return slimClient{
		Email: c.Email, SubID: c.SubID, Enable: c.Enable, TotalGB: c.TotalGB,
		ExpiryTime: c.ExpiryTime, LimitIP: c.LimitIP, LimitHwid: c.LimitHwid,
		Reset: c.Reset, ResetDay: c.ResetDay, ResetMax: c.ResetMax,
		Group: c.Group, Comment: c.Comment, InboundIDs: c.InboundIDs(),
		Traffic: trafficOf(t, c, false), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

// wireClient is a client as inbound settings and exports carry it.
type wireClient struct {
	ID              string      `json:"id,omitempty"`
	Security        string      `json:"security"`
	Password        string      `json:"password,omitempty"`
	Flow            string      `json:"flow,omitempty"`
	Reverse         *kv.Reverse `json:"reverse,omitempty"`
	Auth            string      `json:"auth,omitempty"`
	Email           string      `json:"email"`
	LimitIP         int         `json:"limitIp"`
	LimitHwid       *int        `json:"limitHwid,omitempty"`
	TotalGB         int64       `json:"totalGB"`
	ExpiryTime      int64       `json:"expiryTime"`
	Enable          bool        `json:"enable"`
	TgID            int64       `json:"tgId"`
	SubID           string      `json:"subId"`
	Group           string      `json:"group,omitempty"`
	Comment         string      `json:"comment"`
	Reset           int         `json:"reset"`
	ResetDay        int         `json:"resetDay"`
	ResetMax        int         `json:"resetMax"`
	TrafficReset    string      `json:"trafficReset,omitempty"`
	TrafficResetDay int         `json:"trafficResetDay,omitempty"`
	Method          string      `json:"method,omitempty"`
	CreatedAt       int64       `json:"created_at,omitempty"`
	UpdatedAt       int64       `json:"updated_at,omitempty"`
}

func wireOf(c *kv.Client, flow string) wireClient {
	return wireClient{
		ID: c.UUID, Security: c.Security, Password: c.Password, Flow: flow,
		Reverse: c.Reverse, Auth: c.Auth, Email: c.Email, LimitIP: c.LimitIP,
		TotalGB: c.TotalGB, ExpiryTime: c.ExpiryTime, Enable: c.Enable,
		TgID: c.TgID, SubID: c.SubID, Group: c.Group, Comment: c.Comment,
		Reset: c.Reset, ResetDay: c.ResetDay, ResetMax: c.ResetMax,
		TrafficReset: c.TrafficReset, TrafficResetDay: c.TrafficResetDay,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

// exportItem is one client of an export.
type exportItem struct {
	Client     wireClient `json:"client"`
	InboundIDs []int64    `json:"inboundIds"`
}

func exportOf(c *kv.Client) exportItem {
	w := wireOf(c, panel.EffectiveFlow(c))
	hwid := c.LimitHwid
	w.LimitHwid = &hwid
	return exportItem{Client: w, InboundIDs: c.InboundIDs()}
}

// inboundJSON is an inbound as the API shows it: settings as nested
// objects, with the clients array rendered from the client records.
type inboundJSON struct {
	*kv.Inbound
	ClientStats    []*trafficJSON  `json:"clientStats"`
	Settings       json.RawMessage `json:"settings"`
	StreamSettings json.RawMessage `json:"streamSettings"`
	Sniffing       json.RawMessage `json:"sniffing"`
}

// inboundOf renders an inbound with its members, read from v.
func inboundOf(v *kv.View, in *kv.Inbound) (inboundJSON, error) {
	members := v.ClientsInInbound(in.ID)
	stats := make([]*trafficJSON, 0, len(members))
	entries := make([]wireClient, 0, len(members))
	method := panel.LegacyMethod(in)
	for _, c := range members {
		a, _ := c.Attachment(in.ID)
		w := wireOf(c, a.Flow)
		w.Method = method
		entries = append(entries, w)
		if t := v.Traffic(c.Email); t != nil {
			stats = append(stats, trafficOf(t, c, false))
		}
	}

	settings := map[string]json.RawMessage{}
	if len(in.Settings) > 0 {
		if err := json.Unmarshal(in.Settings, &settings); err != nil {
			return inboundJSON{}, err
		}
	}
	list, err := json.Marshal(entries)
	if err != nil {
		return inboundJSON{}, err
	}
	settings["clients"] = list
	merged, err := json.Marshal(settings)
	return inboundJSON{Inbound: in, ClientStats: stats, Settings: merged,
		StreamSettings: orNull(in.StreamSettings), Sniffing: orNull(in.Sniffing)}, err
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}
