package handlers

import (
	"bufio"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"
)

// backupPath is the route that streams a backup of the store.
const backupPath = "/panel/api/backup"

// backupWriteTimeout replaces the server's write timeout for a backup,
// whose answer may take much longer to send than any other.
const backupWriteTimeout = time.Hour

// backup streams a consistent copy of the store as it is when the call
// arrives; writes go on meanwhile. The copy ends with a checksum, so a
// caller that loses the connection halfway holds a file that
// kv.CheckBackup and restore refuse. A failure halfway closes the
// connection without the last chunk, which HTTP clients report.
func (h *Handler) backup(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/octet-stream")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="xpanel.backup"`)
	conn := ctx.Conn()
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer func() {
			if v := recover(); v != nil {
				h.svc.Faults().Recovered(h.log, "GET "+backupPath, v)
				conn.Close()
			}
		}()
		err := h.svc.Backup(w)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			h.log.Error("backup failed", slog.Any("err", err))
			conn.Close()
		}
	})
}

// requestConfig lets a backup take longer to send than the write timeout
// allows other answers.
func requestConfig(header *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if string(header.RequestURI()) == backupPath {
		return fasthttp.RequestConfig{WriteTimeout: backupWriteTimeout}
	}
	return fasthttp.RequestConfig{}
}
