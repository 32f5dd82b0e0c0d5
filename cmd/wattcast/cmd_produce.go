package main

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/octopus"
	"github.com/wattcast/wattcast/streams/openmeteo"
	"github.com/wattcast/wattcast/streams/source"
)

func produceCommand() *command {
	return &command{
		name:    "produce",
		summary: "publish real prices (Octopus Agile) or weather (Open-Meteo), live or as a backfill",
		usage:   "wattcast produce --source octopus|openmeteo [--backfill-from DATE --backfill-to DATE] [flags]",
		uses:    sharedKafka,
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			var (
				src          = fs.String("source", "", "octopus or openmeteo; required")
				bfFrom       = fs.String("backfill-from", "", "backfill from this date (YYYY-MM-DD or RFC 3339, UTC) and exit; without it, run live")
				bfTo         = fs.String("backfill-to", "", "backfill up to this date, exclusive (default now)")
				regions      listFlag
				octopusURL   = fs.String("octopus-url", octopus.DefaultBaseURL, "Octopus Energy API base URL")
				rps          = fs.Float64("requests-per-second", 1, "API request rate limit (Open-Meteo's free tier allows 600/min, 5000/h, 10000/day)")
				httpTimeout  = fs.Duration("http-timeout", 30*time.Second, "timeout of one HTTP request")
				locations    listFlag
				locFile      = fs.String("locations-file", "", "JSON file of Open-Meteo locations: [{\"region\":\"FI\",\"name\":\"helsinki\",\"latitude\":60.17,\"longitude\":24.94}]")
				apis         listFlag
				variables    listFlag
				model        = fs.String("openmeteo-model", "", "Open-Meteo models= parameter (default best_match)")
				metaModel    = fs.String("openmeteo-meta-model", "", "model whose meta.json gives forecast issue times, e.g. ecmwf_ifs025 (default: the response time)")
				forecastURL  = fs.String("openmeteo-forecast-url", openmeteo.DefaultForecastURL, "Open-Meteo forecast API")
				archiveURL   = fs.String("openmeteo-archive-url", openmeteo.DefaultArchiveURL, "Open-Meteo archive API")
				prevRunsURL  = fs.String("openmeteo-previous-runs-url", openmeteo.DefaultPreviousRunsURL, "Open-Meteo previous-runs API")
				metaURL      = fs.String("openmeteo-meta-url", openmeteo.DefaultMetaURL, "Open-Meteo model meta.json URL pattern (%s: model)")
				archiveDelay = fs.Duration("openmeteo-archive-delay", 5*24*time.Hour, "delay after which an archive (reanalysis) hour counts as available")
				txID         = fs.String("transactional-id", "", "Kafka transactional id; two producers must not share one (default derived from the source and its regions or locations)")
			)
			regions = listFlag{"A"}
			fs.Var(&regions, "regions", "Octopus regions, A..P, comma separated")
			fs.Var(&locations, "locations", "Open-Meteo locations, REGION:NAME:LAT:LON, comma separated, e.g. FI:helsinki:60.17:24.94")
			fs.Var(&apis, "openmeteo-apis", "Open-Meteo APIs: forecast, archive, previous-runs (default: forecast,archive live; archive,previous-runs backfill)")
			fs.Var(&variables, "openmeteo-variables", "hourly variables (default "+strings.Join(openmeteo.DefaultVariables(), ",")+")")
			return func(rc *runContext) error {
				rc.service = *bfFrom == "" // live
				if !(*rps > 0) {
					return fmt.Errorf("produce: --requests-per-second %g: want a positive rate, e.g. 1 (a zero rate would wait forever)", *rps)
				}
				from, err := parseDate(*bfFrom)
				if err != nil {
					return fmt.Errorf("produce: --backfill-from: %w", err)
				}
				to, err := parseDate(*bfTo)
				if err != nil {
					return fmt.Errorf("produce: --backfill-to: %w", err)
				}
				backfill := !from.IsZero()
				if to.IsZero() {
					to = time.Now().UTC().Truncate(time.Hour)
				}
				if backfill && !from.Before(to) {
					return fmt.Errorf("produce: --backfill-from %s is not before --backfill-to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
				}
				if !backfill && *bfTo != "" {
					return errors.New("produce: --backfill-to needs --backfill-from")
				}
				httpc := &source.HTTPClient{Timeout: *httpTimeout, Limiter: rate.NewLimiter(rate.Limit(*rps), 1),
					UserAgent: "wattcast/" + version + " (+https://github.com/wattcast/wattcast)", Logger: rc.log}
				var tasks []source.Task
				var ident string
				switch *src {
				case "octopus":
					p := &octopus.Producer{Client: &octopus.Client{BaseURL: *octopusURL, HTTP: httpc}, Live: !backfill}
					for _, r := range regions {
						t, err := p.Task(strings.ToUpper(r))
						if err != nil {
							return fmt.Errorf("produce: --regions: %w", err)
						}
						tasks = append(tasks, t)
					}
					ident = strings.Join(regions, ",")
				case "openmeteo":
					locs, err := openmeteo.ParseLocations(locations)
					if err != nil {
						return err
					}
					if *locFile != "" {
						more, err := openmeteo.LoadLocations(*locFile)
						if err != nil {
							return err
						}
						locs = append(locs, more...)
					}
					if len(locs) == 0 {
						return errors.New("produce: openmeteo needs --locations REGION:NAME:LAT:LON,... or --locations-file FILE.json")
					}
					c := &openmeteo.Client{HTTP: httpc, ForecastURL: *forecastURL, ArchiveURL: *archiveURL, PreviousRunsURL: *prevRunsURL,
						MetaURL: *metaURL, Variables: variables, Model: *model, MetaModel: *metaModel, ArchiveDelay: *archiveDelay}
					p := &openmeteo.Producer{Client: c, Locations: locs}
					use := apis
					if len(use) == 0 {
						use = listFlag{"forecast", "archive"}
						if backfill {
							use = listFlag{"archive", "previous-runs"}
						}
					}
					for _, a := range use {
						switch a {
						case "forecast":
							if backfill {
								return errors.New("produce: the forecast API only has the current forecast: backfill forecasts with --openmeteo-apis previous-runs")
							}
							tasks = append(tasks, p.ForecastTasks()...)
						case "archive":
							tasks = append(tasks, p.ArchiveTasks()...)
						case "previous-runs":
							tasks = append(tasks, p.PreviousRunsTasks()...)
						default:
							return fmt.Errorf("produce: --openmeteo-apis %q: want forecast, archive or previous-runs", a)
						}
					}
					var names []string
					for _, l := range locs {
						names = append(names, l.Region+"/"+l.Name)
					}
					ident = strings.Join(names, ",") + "|" + strings.Join(use, ",")
				default:
					return fmt.Errorf("produce: --source %q: want octopus or openmeteo", *src)
				}
				kcfg, err := g.kafkaConfig(rc, rc.log, "wattcast-produce-"+*src)
				if err != nil {
					return err
				}
				if err := ensureSourceTopics(rc, kcfg, g); err != nil {
					return err
				}
				id := *txID
				if id == "" {
					// One id per source and set of series: a restart
					// fences its predecessor; different sets run side by side.
					h := fnv.New32a()
					h.Write([]byte(ident))
					id = fmt.Sprintf("wattcast-produce-%s-%08x", *src, h.Sum32())
				}
				pub, err := source.NewPublisher(rc, kcfg, source.PublisherOptions{Topics: g.topics(),
					Producer: kafka.Producer(version, "produce "+*src), TransactionalID: id, Stage: "produce:" + *src, Logger: rc.log})
				if err != nil {
					return err
				}
				defer pub.Close()
				runner := &source.Runner{Sink: pub, Log: rc.log}
				if backfill {
					rc.log.Info("backfill", "source", *src, "from", from, "to", to, "series", len(tasks), "transactional_id", id)
					st, err := runner.Backfill(rc, tasks, from, to)
					fmt.Fprintf(rc.out, "backfill %s [%s, %s): %d prices, %d observations, %d forecasts, %d dead letters, %d already published\n",
						*src, from.Format(time.RFC3339), to.Format(time.RFC3339), st.Prices, st.Observations, st.Forecasts, st.DeadLetters, st.Duplicates)
					return err
				}
				rc.log.Info("live", "source", *src, "series", len(tasks), "transactional_id", id, "requests_per_second", *rps)
				return runner.Live(rc, tasks)
			}
		},
	}
}
