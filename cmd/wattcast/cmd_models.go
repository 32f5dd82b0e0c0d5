package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/wattcast/wattcast/training/registry"
)

func modelsCommand() *command {
	return &command{
		name:       "models",
		positional: true,
		summary:    "list the registered models, or show one model card",
		usage:      "wattcast models list | wattcast models show ID[@VERSION]",
		uses:       sharedStore,
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			jsonOut := fs.Bool("json", false, "print JSON instead of a table")
			return func(rc *runContext) error {
				if len(rc.args) == 0 {
					return errors.New("models: want a subcommand: list, or show ID[@VERSION]")
				}
				// Listing and showing only read: a mistyped registry
				// path is an error, not a new empty registry.
				b, _, err := g.openRegistryToRead(rc)
				if err != nil {
					return err
				}
				reg := registry.New(b)
				switch rc.args[0] {
				case "list":
					return modelsList(rc, reg, b.URL(""), *jsonOut)
				case "show":
					if len(rc.args) != 2 {
						return errors.New("models show: want one ID or ID@VERSION")
					}
					ref, err := registry.ParseRef(rc.args[1])
					if err != nil {
						return err
					}
					card, err := reg.Card(rc, ref)
					if err != nil {
						return err
					}
					st, err := reg.Stages(rc)
					if err != nil {
						return err
					}
					out := struct {
						Stage string `json:"stage"`
						registry.Card
					}{st.Stage(card.Ref()), card}
					enc := json.NewEncoder(rc.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(out)
				}
				return fmt.Errorf("models: unknown subcommand %q; want list or show", rc.args[0])
			}
		},
	}
}

// modelsList prints every version in the registry at url; with none, it
// says so (text) or prints [] (JSON).
func modelsList(rc *runContext, reg *registry.Registry, url string, asJSON bool) error {
	ids, err := reg.IDs(rc)
	if err != nil {
		return err
	}
	st, err := reg.Stages(rc)
	if err != nil {
		return err
	}
	type row struct {
		Ref     string  `json:"ref"`
		Kind    string  `json:"kind"`
		Stage   string  `json:"stage"`
		Created string  `json:"created"`
		Regions int     `json:"regions"`
		Window  string  `json:"training_window"`
		MAE     float64 `json:"backtest_mae"`
		RMAE    float64 `json:"backtest_rmae"`
		CodeVer string  `json:"code_version"`
	}
	rows := []row{} // JSON [] rather than null when there are none
	for _, id := range ids {
		cards, err := reg.Versions(rc, id)
		if err != nil {
			return err
		}
		for _, c := range cards {
			r := row{Ref: c.Ref().String(), Kind: c.Kind, Stage: st.Stage(c.Ref()), Created: c.CreatedAt.Format("2006-01-02 15:04"),
				Regions: len(c.Regions), Window: c.TrainingWindow.From + ".." + c.TrainingWindow.To, CodeVer: c.CodeVersion}
			if c.Backtest != nil {
				r.MAE, r.RMAE = c.Backtest.Overall.MAE, c.Backtest.Overall.RMAE
			}
			rows = append(rows, r)
		}
	}
	if asJSON {
		enc := json.NewEncoder(rc.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(rc.stdout, "no models in %s (check --registry; `wattcast train` registers models)\n", url)
		return err
	}
	tw := tabwriter.NewWriter(rc.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tKIND\tSTAGE\tCREATED\tREGIONS\tTRAINING WINDOW\tMAE\trMAE\tCODE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%.3f\t%.3f\t%s\n", r.Ref, r.Kind, r.Stage, r.Created, r.Regions, r.Window, r.MAE, r.RMAE, r.CodeVer)
	}
	return tw.Flush()
}
