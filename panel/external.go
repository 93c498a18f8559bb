package panel

import (
	"net/url"
	"strings"

	"github.com/xpanel/xpanel/kv"
)

// maxExternalLinks bounds how many external links one client carries.
const maxExternalLinks = 100

// ExternalLinkInput is one external link as a request carries it.
type ExternalLinkInput struct {
	Kind       string `json:"kind"`
	Value      string `json:"value"`
	Remark     string `json:"remark"`
	Enable     *bool  `json:"enable"`
	ExpiryTime int64  `json:"expiryTime"`
	NamePrefix string `json:"namePrefix"`
}

// shareSchemes are the link schemes an external link of kind "link" may
// use.
var shareSchemes = []string{"vmess://", "vless://", "trojan://", "ss://",
	"hysteria2://", "hy2://", "wireguard://", "wg://"}

// SetExternalLinks replaces the client's external links. Entries with a
// blank value are dropped; a link keeps its fetch state when an entry of
// the same kind and value is sent again.
func (s *Service) SetExternalLinks(email string, inputs []ExternalLinkInput) error {
	if strings.TrimSpace(email) == "" {
		return refuse("client email is required")
	}
	links, err := checkExternalLinks(inputs)
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
		n := c.Clone()
		n.Links, n.UpdatedAt = links, s.nowMs()
		for i := range n.Links {
			if err := s.placeLink(tx, c, &n.Links[i], i); err != nil {
				return err
			}
		}
		return tx.PutClient(n)
	})
}

// placeLink gives a link its owner, position and id, reusing the id and
// fetch state of the same link stored before.
func (s *Service) placeLink(tx *kv.Tx, c *kv.Client, l *kv.ExternalLink, i int) error {
	l.ClientID, l.SortIndex = c.ID, i
	for _, old := range c.Links {
		if old.Kind == l.Kind && old.Value == l.Value {
			l.ID, l.CreatedAt = old.ID, old.CreatedAt
			l.LastFetchAt, l.LastFetchError = old.LastFetchAt, old.LastFetchError
			return nil
		}
	}
	id, err := tx.NextID("link")
	l.ID, l.CreatedAt = id, s.nowMs()
	return err
}

func checkExternalLinks(inputs []ExternalLinkInput) ([]kv.ExternalLink, error) {
	var links []kv.ExternalLink
	for _, in := range inputs {
		value := strings.TrimSpace(in.Value)
		if value == "" {
			continue
		}
		kind, err := checkExternalLink(in.Kind, value)
		if err != nil {
			return nil, err
		}
		if in.ExpiryTime < 0 {
			return nil, refuse("external link expiryTime must be 0 (never) or a future unix millisecond timestamp: %d", in.ExpiryTime)
		}
		links = append(links, kv.ExternalLink{
			Kind: kind, Value: value, Remark: strings.TrimSpace(in.Remark),
			Enable: in.Enable == nil || *in.Enable, ExpiryTime: in.ExpiryTime,
			NamePrefix: in.NamePrefix,
		})
	}
	if len(links) > maxExternalLinks {
		return nil, refuse("a client may carry at most %d external links", maxExternalLinks)
	}
	return links, nil
}

func checkExternalLink(kind, value string) (string, error) {
	if len(value) > 8192 {
		return "", refuse("external link is longer than 8192 bytes")
	}
	switch kind {
	case "subscription":
		u, err := url.Parse(value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", refuse("external subscription must be an http(s) URL: %s", value)
		}
		return kind, nil
	case "link", "":
		for _, scheme := range shareSchemes {
			rest, ok := strings.CutPrefix(value, scheme)
			if ok && rest != "" && !strings.ContainsFunc(rest, isSpaceOrControl) {
				return "link", nil
			}
		}
		return "", refuse("unsupported or invalid share link: %s", value)
	}
	return "", refuse("unknown external link kind: %s", kind)
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}
