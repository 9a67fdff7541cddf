package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// errUsage marks errors caused by bad flags or environment values (exit status 2).
var errUsage = errors.New("usage")

// envPrefix prefixes the environment variable of each flag: -ip-pattern is ONCESIM_IP_PATTERN.
const envPrefix = "ONCESIM_"

// config is everything the command line and the environment set.
type config struct {
	listen        string
	user          string
	password      string
	count         int
	iccidPrefix   string
	ipPattern     string
	ipStart       int
	inventoryFile string
	basePath      string
	tokenTTL      time.Duration
	rateLimit     float64
	rateBurst     int
	// The simulated Data Streamer (off without streamURL).
	streamURL      string
	streamUser     string
	streamPassword string
	streamInterval time.Duration
}

// newFlagSet declares the flags with their built-in defaults.
func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("oncesim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8090", "address to listen on (host:0 picks a free port)")
	fs.StringVar(&c.user, "user", "demo@example.com", "user of the Basic-auth credentials")
	fs.StringVar(&c.password, "password", "", "password of the Basic-auth credentials (required; prefer env "+envPrefix+"PASSWORD)")
	fs.IntVar(&c.count, "count", 5, "number of SIMs to generate")
	fs.StringVar(&c.iccidPrefix, "iccid-prefix", "8988280666000000", "ICCID prefix of generated SIMs (ICCIDs have 19 digits)")
	fs.StringVar(&c.ipPattern, "ip-pattern", "127.0.0.x", "IP pattern of generated SIMs; trailing x octets count up (\"\" = no IP)")
	fs.IntVar(&c.ipStart, "ip-start", 2, "first value of the x octets")
	fs.StringVar(&c.inventoryFile, "inventory-file", "", "JSON array of SIMs to serve instead of generated ones")
	fs.StringVar(&c.basePath, "base-path", oncesim.DefaultBasePath, "path prefix of the API (may be empty)")
	fs.DurationVar(&c.tokenTTL, "token-ttl", oncesim.DefaultTokenTTL, "lifetime of issued tokens")
	fs.Float64Var(&c.rateLimit, "rate-limit", oncesim.DefaultRateLimit, "requests per second on /v1/sims and /v1/sims/{iccid} together (0 = unlimited)")
	fs.IntVar(&c.rateBurst, "rate-burst", oncesim.DefaultRateBurst, "burst of the rate limit")
	fs.StringVar(&c.streamURL, "stream-url", "", "Data Streamer receiver the simulator posts the events of inventory changes to (\"\" = off)")
	fs.StringVar(&c.streamUser, "stream-user", "1nce-datastreamer", "Basic-auth user of the Data Streamer")
	fs.StringVar(&c.streamPassword, "stream-password", "", "Basic-auth password of the Data Streamer (prefer env "+envPrefix+"STREAM_PASSWORD)")
	fs.DurationVar(&c.streamInterval, "stream-interval", 500*time.Millisecond, "how often the Data Streamer sends a batch")
	return fs
}

// parseConfig reads flags, then fills every flag not given on the command line from its
// ONCESIM_<NAME> environment variable, so flags win over the environment over the defaults.
func parseConfig(args []string, lookupEnv func(string) (string, bool)) (config, error) {
	var c config
	fs := newFlagSet(&c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if err := applyEnv(fs, lookupEnv); err != nil {
		return c, err
	}
	return c, c.validate()
}

// applyEnv sets each flag absent from the command line from its environment variable.
func applyEnv(fs *flag.FlagSet, lookupEnv func(string) (string, bool)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		v, ok := lookupEnv(name)
		if given[f.Name] || !ok || err != nil {
			return
		}
		if setErr := fs.Set(f.Name, v); setErr != nil {
			err = fmt.Errorf("%w: %s=%q: %v", errUsage, name, v, setErr)
		}
	})
	return err
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// validate checks what the flag types cannot.
func (c config) validate() error {
	switch {
	case c.password == "":
		return fmt.Errorf("%w: -password (or %sPASSWORD) is required", errUsage, envPrefix)
	case c.count < 0:
		return fmt.Errorf("%w: -count must not be negative", errUsage)
	case c.tokenTTL <= 0:
		return fmt.Errorf("%w: -token-ttl must be positive", errUsage)
	case c.rateLimit < 0 || c.rateBurst < 0:
		return fmt.Errorf("%w: -rate-limit and -rate-burst must not be negative", errUsage)
	case c.basePath != "" && !strings.HasPrefix(c.basePath, "/"):
		return fmt.Errorf("%w: -base-path must be empty or start with /", errUsage)
	case c.streamURL != "" && c.streamPassword == "":
		return fmt.Errorf("%w: -stream-url needs -stream-password (or %sSTREAM_PASSWORD)", errUsage, envPrefix)
	case c.streamInterval <= 0:
		return fmt.Errorf("%w: -stream-interval must be positive", errUsage)
	}
	return nil
}

// LogValue logs the configuration with the password masked.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.listen),
		slog.String("user", c.user),
		slog.String("password", "***"),
		slog.Int("count", c.count),
		slog.String("iccid_prefix", c.iccidPrefix),
		slog.String("ip_pattern", c.ipPattern),
		slog.Int("ip_start", c.ipStart),
		slog.String("inventory_file", c.inventoryFile),
		slog.String("base_path", c.basePath),
		slog.String("token_ttl", c.tokenTTL.String()),
		slog.Float64("rate_limit", c.rateLimit),
		slog.Int("rate_burst", c.rateBurst),
		slog.String("stream_url", c.streamURL),
		slog.String("stream_user", c.streamUser),
		slog.String("stream_password", "***"),
		slog.String("stream_interval", c.streamInterval.String()),
	)
}

// usage is the -h text.
func usage(w io.Writer) {
	var c config
	fs := newFlagSet(&c)
	fs.SetOutput(w)
	fmt.Fprintln(w, "Usage: oncesim [flags]\nEvery flag can also be set with ONCESIM_<NAME>, e.g. ONCESIM_PASSWORD, ONCESIM_IP_PATTERN.")
	fs.PrintDefaults()
}
