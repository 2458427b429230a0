package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Names the stand-ins and the tests agree on.
const (
	nodeName        = "standin-node"
	provisionerName = "deckhand.test/standin"
	storageClass    = "standard"
	ingressClass    = "standin"
	clusterIssuer   = "letsencrypt"
)

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// spawn starts this binary with args as a process of its own group, its
// output in DIR/NAME.log, and records its pid in DIR/pids.
func spawn(dir, name string, args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		err := cmd.Wait()
		exited.Store(name, fmt.Sprintf("%s exited (%v); see %s", name, err, filepath.Join(dir, name+".log")))
	}()
	pids, err := os.OpenFile(filepath.Join(dir, "pids"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer pids.Close()
	_, err = fmt.Fprintf(pids, "%d %s\n", cmd.Process.Pid, name)
	return err
}

func up(dir string) error {
	start := time.Now()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "pids")); err == nil {
		return fmt.Errorf("%s/pids exists: a cluster may still run there (run down first)", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, stale := range []string{"etcd"} {
		_ = os.RemoveAll(filepath.Join(dir, stale))
	}
	var ports [3]string
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	peerPort, etcdPort, apiPort := ports[0], ports[1], ports[2]
	server := "https://127.0.0.1:" + apiPort

	ca, err := newAuthority(dir)
	if err != nil {
		return err
	}
	hosts := []string{"127.0.0.1", "localhost", "10.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if err := ca.issue(dir, "apiserver", "kube-apiserver", nil, hosts); err != nil {
		return err
	}
	// Who is who: the admin and the stand-in are cluster admins; the
	// controller manager and the scheduler have their bootstrap roles; the
	// deckhand user has nothing until `deckhand rbac` is applied for it.
	users := []struct {
		name, user string
		groups     []string
	}{
		{"admin", "admin", []string{"system:masters"}},
		{"controller-manager", "system:kube-controller-manager", nil},
		{"scheduler", "system:kube-scheduler", nil},
		{"standin", "kubelet-standin", []string{"system:masters"}},
		{"deckhand", "deckhand", nil},
	}
	kubeconfigs := map[string]string{}
	for _, u := range users {
		if err := ca.issue(dir, u.name, u.user, u.groups, nil); err != nil {
			return err
		}
		if kubeconfigs[u.name], err = ca.kubeconfig(dir, u.name, server); err != nil {
			return err
		}
	}
	if err := serviceAccountKeys(dir); err != nil {
		return err
	}

	if err := spawn(dir, "etcd", "etcd", filepath.Join(dir, "etcd"), peerPort, etcdPort); err != nil {
		return err
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	if err := spawn(dir, "kube-apiserver", "kube-apiserver",
		"--etcd-servers=http://127.0.0.1:"+etcdPort,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+apiPort,
		"--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--client-ca-file="+p("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+p("sa.pub"), "--service-account-signing-key-file="+p("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		// The endpoint reconciler refuses a loopback address, and nothing
		// in the cluster dials the kubernetes Service.
		"--endpoint-reconciler-type=none",
		"--enable-admission-plugins=PodNodeSelector",
		"--allow-privileged=true",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=0",
	); err != nil {
		return err
	}
	admin, err := clientcmd.BuildConfigFromFlags("", kubeconfigs["admin"])
	if err != nil {
		return err
	}
	admin.QPS, admin.Burst = 200, 400
	client := kubernetes.NewForConfigOrDie(admin)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	if err := poll(ctx, "the API server to be ready (see kube-apiserver.log)", func() (bool, error) {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	}); err != nil {
		return err
	}
	apiReady := time.Since(start)

	if err := spawn(dir, "kube-controller-manager", "kube-controller-manager",
		"--kubeconfig="+kubeconfigs["controller-manager"],
		"--authentication-kubeconfig="+kubeconfigs["controller-manager"],
		"--authorization-kubeconfig="+kubeconfigs["controller-manager"],
		"--leader-elect=false",
		"--controllers=*",
		"--service-account-private-key-file="+p("sa.key"),
		"--root-ca-file="+p("ca.crt"),
		"--use-service-account-credentials=true",
		"--kube-api-qps=200", "--kube-api-burst=400",
		"--bind-address=127.0.0.1", "--secure-port=0",
		"--v=0",
	); err != nil {
		return err
	}
	if err := spawn(dir, "kube-scheduler", "kube-scheduler",
		"--kubeconfig="+kubeconfigs["scheduler"],
		"--authentication-kubeconfig="+kubeconfigs["scheduler"],
		"--authorization-kubeconfig="+kubeconfigs["scheduler"],
		"--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port=0",
		"--v=0",
	); err != nil {
		return err
	}
	if err := spawn(dir, "standin", "standin", kubeconfigs["standin"]); err != nil {
		return err
	}
	if err := bootstrap(ctx, client, dynamic.NewForConfigOrDie(admin)); err != nil {
		return err
	}
	// Ready means a pod can be created in a new namespace: the node is
	// Ready and the service account controller is at work.
	if err := poll(ctx, "the stand-in node to be Ready (see standin.log)", func() (bool, error) {
		node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	if err := poll(ctx, "the default service account (see kube-controller-manager.log)", func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return err
	}
	env := fmt.Sprintf("export KUBECONFIG=%s\nexport DECKHAND_TEST_KUBECONFIG=%s\nexport DECKHAND_TEST_ADMIN_KUBECONFIG=%s\n",
		kubeconfigs["admin"], kubeconfigs["deckhand"], kubeconfigs["admin"])
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o644); err != nil {
		return err
	}
	fmt.Print(env)
	fmt.Fprintf(os.Stderr, "control plane at %s: API server ready after %.1f s, cluster ready after %.1f s\n",
		server, apiReady.Seconds(), time.Since(start).Seconds())
	return nil
}

// exited holds, per process name, why a process `up` started has ended.
var exited sync.Map

func poll(ctx context.Context, what string, check func() (bool, error)) error {
	for {
		var gone error
		exited.Range(func(_, why any) bool {
			gone = fmt.Errorf("%s", why)
			return false
		})
		if gone != nil {
			return gone
		}
		done, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// The CRDs of cert-manager that deckhand looks at, with open schemas: only
// the kinds, so that a ClusterIssuer can exist (or not) as on a real cluster.
var certManagerKinds = []struct {
	plural, kind string
	namespaced   bool
}{
	{"clusterissuers", "ClusterIssuer", false},
	{"certificates", "Certificate", true},
}

func bootstrap(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface) error {
	create := func(what string, err error) error {
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", what, err)
		}
		return nil
	}
	var lastErr error
	// The API server may still be installing its built-in roles.
	_ = poll(ctx, "storage class", func() (bool, error) {
		mode := storagev1.VolumeBindingImmediate
		reclaim := corev1.PersistentVolumeReclaimDelete
		_, lastErr = client.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
			ObjectMeta: metav1.ObjectMeta{Name: storageClass, Annotations: map[string]string{
				"storageclass.kubernetes.io/is-default-class": "true"}},
			Provisioner:       provisionerName,
			VolumeBindingMode: &mode,
			ReclaimPolicy:     &reclaim,
		}, metav1.CreateOptions{})
		return lastErr == nil || apierrors.IsAlreadyExists(lastErr), nil
	})
	if err := create("storage class", lastErr); err != nil {
		return err
	}
	_, err := client.NetworkingV1().IngressClasses().Create(ctx, &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: ingressClass, Annotations: map[string]string{
			"ingressclass.kubernetes.io/is-default-class": "true"}},
		Spec: networkingv1.IngressClassSpec{Controller: "deckhand.test/standin-ingress"},
	}, metav1.CreateOptions{})
	if err := create("ingress class", err); err != nil {
		return err
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, k := range certManagerKinds {
		scope := "Cluster"
		if k.namespaced {
			scope = "Namespaced"
		}
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": k.plural + ".cert-manager.io"},
			"spec": map[string]any{
				"group": "cert-manager.io",
				"names": map[string]any{"plural": k.plural, "kind": k.kind, "singular": strings.ToLower(k.kind)},
				"scope": scope,
				"versions": []any{map[string]any{
					"name": "v1", "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
				}},
			},
		}}
		_, err := crds.Create(ctx, crd, metav1.CreateOptions{})
		if err := create("CRD "+k.plural, err); err != nil {
			return err
		}
	}
	issuers := dyn.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"})
	return poll(ctx, "the ClusterIssuer CRD to serve", func() (bool, error) {
		_, err := issuers.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
			"metadata": map[string]any{"name": clusterIssuer},
			"spec":     map[string]any{"selfSigned": map[string]any{}},
		}}, metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err), nil
	})
}

// down stops every process `up` started (by the pids it recorded), waits for
// them, and removes the data directory of etcd.
func down(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "pids"))
	if os.IsNotExist(err) {
		fmt.Fprintln(os.Stderr, "no cluster recorded in", dir)
		return nil
	}
	if err != nil {
		return err
	}
	var pids []int
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	// Stop in reverse order of start: clients before the API server, etcd last.
	for i := len(lines) - 1; i >= 0; i-- {
		fields := strings.Fields(lines[i])
		if len(fields) == 0 {
			continue
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil {
			continue
		}
		if syscall.Kill(pid, syscall.SIGTERM) == nil {
			pids = append(pids, pid)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if syscall.Kill(pid, 0) == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = os.Remove(filepath.Join(dir, "pids"))
	_ = os.Remove(filepath.Join(dir, "env"))
	return os.RemoveAll(filepath.Join(dir, "etcd"))
}
