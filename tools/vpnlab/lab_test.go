package vpnlab_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/simbridge/simbridge/tools/vpnlab"
)

// TestLabCarriesDeviceTraffic connects a plain openvpn client to the lab and
// checks that a connection from the namespace arrives from the device IP.
func TestLabCarriesDeviceTraffic(t *testing.T) {
	if err := vpnlab.Check(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	lab, err := vpnlab.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Stop()

	conf := filepath.Join(dir, "client.conf")
	if err := os.WriteFile(conf, []byte(lab.ClientConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, _ := os.Create(filepath.Join(dir, "client.log"))
	client := exec.CommandContext(ctx, "openvpn", "--config", conf, "--dev", "vlt"+lab.Namespace[len(lab.Namespace)-6:], "--dev-type", "tun")
	client.Stdout, client.Stderr = logf, logf
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Process.Kill(); _ = client.Wait() }()

	var ln net.Listener
	deadline := time.Now().Add(30 * time.Second)
	for ln == nil {
		if ln, err = net.Listen("tcp", lab.GatewayIP+":0"); err != nil {
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(filepath.Join(dir, "client.log"))
				t.Fatalf("client tunnel address never came: %v\n%s", err, b)
			}
			ln = nil
			time.Sleep(100 * time.Millisecond)
		}
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		_ = lab.Command(ctx, "bash", "-c", "exec 3<>/dev/tcp/"+lab.GatewayIP+"/"+itoa(port)+"; sleep 1").Run()
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.RemoteAddr().(*net.TCPAddr).IP.String(); got != lab.DeviceIP {
		t.Fatalf("connection from %s, want the device IP %s", got, lab.DeviceIP)
	}
}

func itoa(n int) string { return (&net.TCPAddr{Port: n}).String()[1:] }
