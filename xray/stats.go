package xray

import "github.com/xtls/xray-core/core"

// Running returns how many inbounds the core serves and how many user
// entries they hold together; a client on two inbounds counts twice.
func (c *Core) Running() (inbounds, users int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.running {
		users += len(r.users)
	}
	return len(c.running), users
}

// Version is the version of Xray-core built into the binary.
func Version() string {
	return core.Version()
}
