package main

import (
	"flag"
	"fmt"

	"github.com/wattcast/wattcast/streams/broker"
)

func brokerCommand() *command {
	return &command{
		name:    "broker",
		summary: "run the embedded Kafka-protocol broker (for local development, not production)",
		usage:   "wattcast broker [--port 9092] [--data-dir DIR]",
		uses:    sharedNone,
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			port := fs.Int("port", 9092, "port to listen on, on 127.0.0.1")
			dir := fs.String("data-dir", ".wattcast/broker", "directory keeping the broker's data across restarts (\"\" for memory only)")
			return func(rc *runContext) error {
				rc.service = true
				opts := []broker.Opt{broker.WithPort(*port), broker.WithLogger(rc.log)}
				if *dir != "" {
					opts = append(opts, broker.WithDataDir(*dir))
				}
				b, err := broker.Start(opts...)
				if err != nil {
					return err
				}
				defer b.Close()
				fmt.Fprintf(rc.out, "embedded broker listening on %s (data in %q); set WATTCAST_KAFKA_BROKERS=%s\n", b.Addrs()[0], *dir, b.Addrs()[0])
				<-rc.Done()
				return nil
			}
		},
	}
}
