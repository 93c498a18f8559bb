package kv

import (
	json "github.com/goccy/go-json"
	"strings"
)

// Client is the canonical record of one proxy user. One record drives the
// user's entry in every inbound it is attached to.
//
// Records handed out by the store are shared and must not be modified:
// copy with Clone, change the copy, and write it back with Tx.PutClient.
type Client struct {
	ID              int64          `json:"id"`
	Email           string         `json:"email"`
	SubID           string         `json:"subId"`
	UUID            string         `json:"uuid"`
	Password        string         `json:"password"`
	Auth            string         `json:"auth"`
	Flow            string         `json:"flow"`
	Security        string         `json:"security"`
	Reverse         *Reverse       `json:"reverse"`
	LimitIP         int            `json:"limitIp"`
	LimitHwid       int            `json:"limitHwid"`
	TotalGB         int64          `json:"totalGB"`
	ExpiryTime      int64          `json:"expiryTime"`
	Enable          bool           `json:"enable"`
	TgID            int64          `json:"tgId"`
	Group           string         `json:"group"`
	Comment         string         `json:"comment"`
	Reset           int            `json:"reset"`
	ResetDay        int            `json:"resetDay"`
	ResetMax        int            `json:"resetMax"`
	TrafficReset    string         `json:"trafficReset"`
	TrafficResetDay int            `json:"trafficResetDay"`
	CreatedAt       int64          `json:"createdAt"`
	UpdatedAt       int64          `json:"updatedAt"`
	Inbounds        []Attachment   `json:"-"`
	Links           []ExternalLink `json:"-"`
}

// clientDisk is how a client is stored: its JSON record plus the
// attachments and external links, which the record JSON leaves out.
type clientDisk struct {
	*Client
	Attachments []Attachment   `json:"attachments,omitempty"`
	Links       []ExternalLink `json:"externalLinks,omitempty"`
}

func encodeClient(c *Client) ([]byte, error) {
	return encode(clientDisk{Client: c, Attachments: c.Inbounds, Links: c.Links})
}

func decodeClient(b []byte) (*Client, error) {
	d := clientDisk{Client: &Client{}}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	d.Client.Inbounds, d.Client.Links = d.Attachments, d.Links
	return d.Client, nil
}

// Reverse is the VLESS simple-reverse setting of a client.
type Reverse struct {
	Tag string `json:"tag"`
}

// Attachment ties a client to one inbound, with the flow it uses there.
// A client's attachments are kept sorted by inbound id.
type Attachment struct {
	InboundID int64  `json:"inboundId"`
	Flow      string `json:"flow,omitempty"`
}

// ExternalLink is an extra share link or subscription URL that a client's
// subscription carries next to the links of its own inbounds.
type ExternalLink struct {
	ID             int64  `json:"id"`
	ClientID       int64  `json:"clientId"`
	Kind           string `json:"kind"`
	Value          string `json:"value"`
	Remark         string `json:"remark"`
	Enable         bool   `json:"enable"`
	ExpiryTime     int64  `json:"expiryTime"`
	NamePrefix     string `json:"namePrefix"`
	LastFetchAt    int64  `json:"lastFetchAt"`
	LastFetchError string `json:"lastFetchError"`
	SortIndex      int    `json:"sortIndex"`
	CreatedAt      int64  `json:"createdAt"`
}

// Clone returns a deep copy that the caller may change.
func (c *Client) Clone() *Client {
	n := *c
	if c.Reverse != nil {
		r := *c.Reverse
		n.Reverse = &r
	}
	n.Inbounds = append([]Attachment(nil), c.Inbounds...)
	n.Links = append([]ExternalLink(nil), c.Links...)
	return &n
}

// InboundIDs lists the ids of the inbounds the client is attached to, in
// ascending order; nil when it is attached to none.
func (c *Client) InboundIDs() []int64 {
	if len(c.Inbounds) == 0 {
		return nil
	}
	ids := make([]int64, len(c.Inbounds))
	for i, a := range c.Inbounds {
		ids[i] = a.InboundID
	}
	return ids
}

// Attachment returns the client's attachment to the inbound, if any.
func (c *Client) Attachment(inboundID int64) (Attachment, bool) {
	for _, a := range c.Inbounds {
		if a.InboundID == inboundID {
			return a, true
		}
	}
	return Attachment{}, false
}

// Traffic is the usage row of one email. It outlives its client when a
// delete asks to keep traffic, and a client created later under the same
// email picks it up again.
type Traffic struct {
	ID           int64  `json:"id"`
	InboundID    int64  `json:"inboundId"`
	Email        string `json:"email"`
	Enable       bool   `json:"enable"`
	Up           int64  `json:"up"`
	Down         int64  `json:"down"`
	ResetCount   int    `json:"resetCount"`
	LastOnline   int64  `json:"lastOnline"`
	LastSubFetch int64  `json:"lastSubFetch"`
}

// Used is the number of bytes the row has counted in both directions.
func (t *Traffic) Used() int64 {
	if t == nil {
		return 0
	}
	return t.Up + t.Down
}

// Inbound is a listener of the proxy core. Its settings are kept without
// the clients array: that is rendered from the attached client records.
type Inbound struct {
	ID                   int64           `json:"id"`
	Up                   int64           `json:"up"`
	Down                 int64           `json:"down"`
	Total                int64           `json:"total"`
	Remark               string          `json:"remark"`
	Enable               bool            `json:"enable"`
	ExpiryTime           int64           `json:"expiryTime"`
	TrafficReset         string          `json:"trafficReset"`
	TrafficResetDay      int             `json:"trafficResetDay"`
	LastTrafficResetTime int64           `json:"lastTrafficResetTime"`
	Listen               string          `json:"listen"`
	Port                 int             `json:"port"`
	Protocol             string          `json:"protocol"`
	Settings             json.RawMessage `json:"settings"`
	StreamSettings       json.RawMessage `json:"streamSettings"`
	Sniffing             json.RawMessage `json:"sniffing"`
	Tag                  string          `json:"tag"`
	DisableFlow          bool            `json:"disableFlow"`
	CreatedAt            int64           `json:"createdAt"`
	UpdatedAt            int64           `json:"updatedAt"`

	// ShareAddr, when set, is the host share links advertise for this
	// inbound, over its listen address and the configured public host.
	ShareAddr string `json:"shareAddr,omitempty"`
}

// Group is a stored group name. Groups also exist implicitly as labels on
// clients; a stored one survives with no member and keeps the baseline
// that a group traffic reset sets.
type Group struct {
	Name      string `json:"name"`
	ResetUp   int64  `json:"resetUp"`
	ResetDown int64  `json:"resetDown"`
}

// IPEntry is a source address a client was seen from.
type IPEntry struct {
	IP        string `json:"ip"`
	Timestamp int64  `json:"timestamp"` // Unix seconds of the last sighting

	// Refused marks an address the client's IP limit turned away or cut.
	Refused bool `json:"refused,omitempty"`
}

// FoldEmail is the form under which emails are compared for uniqueness.
func FoldEmail(email string) string {
	return strings.ToLower(email)
}
