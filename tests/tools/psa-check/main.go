// psa-check: the Kubernetes Pod Security Admission's own checks
// (k8s.io/pod-security-admission, policy version "latest") applied to the pod
// templates of the Deployments and StatefulSets in the YAML files named on the
// command line. One JSON line per workload:
// {"file": ..., "kind": ..., "name": ..., "baseline": [...], "restricted": [...]}
// where each list holds the reasons that level is not met (empty: it is).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

type result struct {
	File       string   `json:"file"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Baseline   []string `json:"baseline"`
	Restricted []string `json:"restricted"`
}

func reasons(evaluator policy.Evaluator, level api.Level, template *appsv1.Deployment) []string {
	out := []string{}
	results := evaluator.EvaluatePod(api.LevelVersion{Level: level, Version: api.LatestVersion()}, &template.Spec.Template.ObjectMeta, &template.Spec.Template.Spec)
	for _, r := range results {
		if !r.Allowed {
			out = append(out, r.ForbiddenReason+": "+r.ForbiddenDetail)
		}
	}
	return out
}

func main() {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, doc := range bytes.Split(data, []byte("\n---")) {
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
				os.Exit(2)
			}
			if head.Kind != "Deployment" && head.Kind != "StatefulSet" {
				continue
			}
			// Both kinds keep the pod template at spec.template; the fields
			// only a StatefulSet has are ignored.
			var workload appsv1.Deployment
			if err := yaml.Unmarshal(doc, &workload); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
				os.Exit(2)
			}
			line, _ := json.Marshal(result{
				File:       file,
				Kind:       head.Kind,
				Name:       strings.TrimSpace(workload.Name),
				Baseline:   reasons(evaluator, api.LevelBaseline, &workload),
				Restricted: reasons(evaluator, api.LevelRestricted, &workload),
			})
			out.Write(line)
			out.WriteString("\n")
		}
	}
}
