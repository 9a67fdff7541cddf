package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// nginxConf is the reference's proxy (1NCE's onboarding EC2 instance):
// proxy_pass to the onboarding endpoint with the device IP taken from
// $proxy_add_x_forwarded_for and the API key added, on Debian's defaults
// (worker_processes auto, access log on, HTTP/1.0 to the upstream). Only
// worker_connections is raised so that 1,000 devices fit.
const nginxConf = `worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 8192; }
http {
  access_log %[1]s/nginx-access.log;
  client_body_temp_path %[1]s/tmp-body;
  proxy_temp_path %[1]s/tmp-proxy;
  fastcgi_temp_path %[1]s/tmp-fastcgi;
  uwsgi_temp_path %[1]s/tmp-uwsgi;
  scgi_temp_path %[1]s/tmp-scgi;
  sendfile on;
  keepalive_timeout 65;
  server {
    listen %[2]s default_server;
    server_name _;
    location / {
      proxy_pass http://%[3]s;
      proxy_set_header onboarding-ip $proxy_add_x_forwarded_for;
      proxy_set_header x-api-key %[4]s;
    }
  }
}
`

// startNginx runs nginx on a free port in front of the API at api.
func (st *stack) startNginx(ctx context.Context, o options, api string) (string, error) {
	if _, err := exec.LookPath(o.nginx); err != nil {
		return "", fmt.Errorf("nginx not found (apt-get install nginx, or make bench-onboarding which installs it): %w", err)
	}
	dir := filepath.Join(o.logDir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	addr := freeAddr()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, addr, api, benchKey), 0o644); err != nil {
		return "", err
	}
	if err := st.start(o, "nginx", o.nginx, []string{"-c", conf, "-p", dir}, os.Environ()); err != nil {
		return "", err
	}
	return addr, waitHTTP(ctx, "http://"+addr+"/nginx-ready-probe", "nginx")
}
