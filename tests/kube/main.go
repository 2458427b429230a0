// Command kubeharness is deckhand's test control plane: one binary that
// runs, as separate processes of itself, a real etcd (embedded), the real
// kube-apiserver, kube-controller-manager and kube-scheduler of
// k8s.io/kubernetes, and a small kubelet stand-in. `kubeharness up DIR`
// starts them all and returns once the cluster serves; `tests/kube/cluster`
// is the script people run.
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

const usage = `usage: kubeharness up DIR | down DIR | etcd DIR PEER_PORT CLIENT_PORT | standin KUBECONFIG |
       kube-apiserver FLAGS | kube-controller-manager FLAGS | kube-scheduler FLAGS`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	sub, rest := os.Args[1], os.Args[2:]
	// The Kubernetes commands parse os.Args themselves.
	os.Args = append([]string{sub}, rest...)
	var err error
	switch sub {
	case "kube-apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "kube-scheduler":
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	case "etcd":
		err = needArgs(rest, 3, func() error { return runEtcd(rest[0], rest[1], rest[2]) })
	case "standin":
		err = needArgs(rest, 1, func() error { return runStandin(rest[0]) })
	case "up":
		err = needArgs(rest, 1, func() error { return up(rest[0]) })
	case "down":
		err = needArgs(rest, 1, func() error { return down(rest[0]) })
	default:
		err = fmt.Errorf("unknown command %q\n%s", sub, usage)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeharness:", err)
		os.Exit(1)
	}
}

func needArgs(args []string, n int, run func() error) error {
	if len(args) != n {
		return fmt.Errorf("expected %d argument(s), got %d\n%s", n, len(args), usage)
	}
	return run()
}
