package main

// The kubelet stand-in: the node's job and nothing more. It registers one
// Node and keeps its lease; for every pod the real scheduler binds to it,
// it reports the pod Running and Ready after a delay (or, for images named
// to fail, the kubelet's own ErrImagePull / ImagePullBackOff /
// CrashLoopBackOff states); it deletes pods the API server marks for
// deletion, as a kubelet does once the containers stopped. It also does two
// small jobs a real cluster's add-ons do: it provisions volumes for the
// default StorageClass (an external provisioner) and writes the TLS Secret
// of an Ingress that names an existing cert-manager ClusterIssuer
// (cert-manager's ingress-shim).
//
// What a pod does is decided by its images, and can be set per namespace
// by the ConfigMap "kubelet-standin" (admin only):
//   image names containing "fail-pull"  -> ErrImagePull, then ImagePullBackOff
//   image names containing "crashloop"  -> CrashLoopBackOff, restarts counting up
//   image names containing "flaky-pull" -> ErrImagePull for 4 s, then Ready
//   image names containing "never-ready" -> ContainerCreating for ever
//   data["IMAGE"] = ErrImagePull | CrashLoopBackOff | FlakyPull | NeverReady | Ready
//     (IMAGE with each character a key may not hold as "_")
//   data["ready-delay"] = a Go duration (default: STANDIN_READY_DELAY, else 1s)
// A namespace labelled kubelet-standin/provisioning=off gets no volumes (its
// claims stay Pending, as with a provisioner that does not answer).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

type standin struct {
	client  kubernetes.Interface
	dyn     dynamic.Interface
	delay   time.Duration
	mu      sync.Mutex
	running map[types.UID]bool
	nextIP  int
	ctx     context.Context
	// namespaces is the informer's cache of namespaces (a provisioner reads
	// its cache, not the API server, for every claim).
	namespaces corelisters.NamespaceLister
	// pods is the informer's cache of the node's pods.
	pods corelisters.PodLister
}

func runStandin(kubeconfig string) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	config.QPS, config.Burst = 200, 400
	delay := time.Second
	if v := os.Getenv("STANDIN_READY_DELAY"); v != "" {
		if delay, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("STANDIN_READY_DELAY: %w", err)
		}
	}
	s := &standin{
		client:  kubernetes.NewForConfigOrDie(config),
		dyn:     dynamic.NewForConfigOrDie(config),
		delay:   delay,
		running: map[types.UID]bool{},
		ctx:     context.Background(),
	}
	if err := s.registerNode(); err != nil {
		return err
	}
	go s.heartbeat()

	onNode := informers.NewSharedInformerFactoryWithOptions(s.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
		}))
	onNode.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.pod(o.(*corev1.Pod)) },
		UpdateFunc: func(_, o any) { s.pod(o.(*corev1.Pod)) },
	})
	all := informers.NewSharedInformerFactory(s.client, 0)
	all.Core().V1().PersistentVolumeClaims().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.claim(o.(*corev1.PersistentVolumeClaim)) },
		UpdateFunc: func(_, o any) { s.claim(o.(*corev1.PersistentVolumeClaim)) },
	})
	all.Core().V1().PersistentVolumes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.volume(o.(*corev1.PersistentVolume)) },
		UpdateFunc: func(_, o any) { s.volume(o.(*corev1.PersistentVolume)) },
	})
	all.Networking().V1().Ingresses().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.ingress(o.(*networkingv1.Ingress)) },
		UpdateFunc: func(_, o any) { s.ingress(o.(*networkingv1.Ingress)) },
	})
	s.namespaces = all.Core().V1().Namespaces().Lister()
	s.pods = onNode.Core().V1().Pods().Lister()
	stop := make(chan struct{})
	onNode.Start(stop)
	all.Start(stop)
	all.WaitForCacheSync(stop)
	fmt.Println("kubelet stand-in running on node", nodeName, "ready delay", s.delay)
	select {}
}

func (s *standin) registerNode() error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("64"),
		corev1.ResourceMemory:           resource.MustParse("256Gi"),
		corev1.ResourcePods:             resource.MustParse("1000"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: nodeName, Labels: map[string]string{
			"kubernetes.io/hostname": nodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
	}
	var err error
	for i := 0; i < 100; i++ {
		_, err = s.client.CoreV1().Nodes().Create(s.ctx, node, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("registering node: %w", err)
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := s.client.CoreV1().Nodes().Get(s.ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		current.Status.Capacity = capacity
		current.Status.Allocatable = capacity
		current.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: nodeName}}
		current.Status.Conditions = []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "kubelet stand-in is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now,
		}}
		current.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-standin", OperatingSystem: "linux", Architecture: "amd64"}
		_, err = s.client.CoreV1().Nodes().UpdateStatus(s.ctx, current, metav1.UpdateOptions{})
		return err
	})
}

// heartbeat renews the node's lease, as the kubelet does every 10 s.
func (s *standin) heartbeat() {
	leases := s.client.CoordinationV1().Leases("kube-node-lease")
	for {
		now := metav1.NewMicroTime(time.Now())
		lease, err := leases.Get(s.ctx, nodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = leases.Create(s.ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: nodeName},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(nodeName),
					LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &now},
			}, metav1.CreateOptions{})
		} else if err == nil {
			lease.Spec.RenewTime = &now
			_, err = leases.Update(s.ctx, lease, metav1.UpdateOptions{})
		}
		if err != nil {
			fmt.Println("lease:", err)
		}
		if err := s.registerNode(); err != nil {
			fmt.Println("node status:", err)
		}
		time.Sleep(10 * time.Second)
	}
}

// behaviour is what the pod's containers do, from their images and the
// namespace's "kubelet-standin" ConfigMap.
func (s *standin) behaviour(pod *corev1.Pod) (string, time.Duration) {
	delay := s.delay
	rules := map[string]string{}
	if cm, err := s.client.CoreV1().ConfigMaps(pod.Namespace).Get(s.ctx, "kubelet-standin", metav1.GetOptions{}); err == nil {
		rules = cm.Data
		if d, err := time.ParseDuration(rules["ready-delay"]); err == nil {
			delay = d
		}
	}
	for _, c := range pod.Spec.Containers {
		if b, ok := rules[configMapKey(c.Image)]; ok && b != "Ready" {
			return b, delay
		}
		switch {
		case strings.Contains(c.Image, "fail-pull"):
			return "ErrImagePull", delay
		case strings.Contains(c.Image, "crashloop"):
			return "CrashLoopBackOff", delay
		case strings.Contains(c.Image, "flaky-pull"):
			return "FlakyPull", delay
		case strings.Contains(c.Image, "never-ready"):
			return "NeverReady", delay
		}
	}
	return "Ready", delay
}

// configMapKey is an image name as a ConfigMap key: every character a key
// may not hold ([-._a-zA-Z0-9]) becomes "_" ("grafana/grafana:11.2" ->
// "grafana_grafana_11.2").
func configMapKey(image string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, image)
}

func (s *standin) pod(pod *corev1.Pod) {
	if pod.DeletionTimestamp != nil {
		// The containers "stopped": the kubelet's final delete.
		go func() {
			err := s.client.CoreV1().Pods(pod.Namespace).Delete(s.ctx, pod.Name, metav1.DeleteOptions{
				GracePeriodSeconds: ptr.To[int64](0),
				Preconditions:      &metav1.Preconditions{UID: &pod.UID},
			})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				fmt.Println("deleting pod", pod.Namespace, pod.Name, err)
			}
		}()
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return
	}
	s.mu.Lock()
	if s.running[pod.UID] {
		s.mu.Unlock()
		return
	}
	s.running[pod.UID] = true
	s.nextIP++
	ip := fmt.Sprintf("10.244.%d.%d", (s.nextIP/250)%250, s.nextIP%250+2)
	s.mu.Unlock()
	go s.run(pod.DeepCopy(), ip)
}

// setStatus changes the pod's status with one patch of the status
// subresource, as the kubelet's status manager does, with the pod's UID in
// the patch so that a pod recreated under the same name is not touched;
// false once the pod is gone or being deleted. A JSON merge patch: the
// lists it carries (conditions, container statuses) replace the old ones
// whole, so no state of an earlier report is left behind.
func (s *standin) setStatus(pod *corev1.Pod, change func(*corev1.PodStatus)) bool {
	if cached, err := s.pods.Pods(pod.Namespace).Get(pod.Name); err == nil &&
		(cached.UID != pod.UID || cached.DeletionTimestamp != nil) {
		return false
	}
	status := *pod.Status.DeepCopy()
	change(&status)
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   status,
	})
	if err != nil {
		fmt.Println("pod status", pod.Namespace, pod.Name, err)
		return false
	}
	current, err := s.client.CoreV1().Pods(pod.Namespace).Patch(s.ctx, pod.Name, types.MergePatchType,
		patch, metav1.PatchOptions{}, "status")
	if err != nil {
		// NotFound: gone; Conflict: another pod under that name now.
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			fmt.Println("pod status", pod.Namespace, pod.Name, err)
		}
		return false
	}
	return current.DeletionTimestamp == nil
}

func condition(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: metav1.Now()}
}

func conditions(ready bool) []corev1.PodCondition {
	reason := ""
	if !ready {
		reason = "ContainersNotReady"
	}
	return []corev1.PodCondition{
		condition(corev1.PodReadyToStartContainers, true, ""),
		condition(corev1.PodInitialized, true, ""),
		condition(corev1.PodReady, ready, reason),
		condition(corev1.ContainersReady, ready, reason),
		condition(corev1.PodScheduled, true, ""),
	}
}

func (s *standin) run(pod *corev1.Pod, ip string) {
	// The delay counts from the moment the node sees the pod.
	seen := time.Now()
	behaviour, delay := s.behaviour(pod)
	started := metav1.Now()
	base := func(st *corev1.PodStatus) {
		st.HostIP = "192.0.2.1"
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
		st.PodIP = ip
		st.PodIPs = []corev1.PodIP{{IP: ip}}
		st.StartTime = &started
	}
	waiting := func(reason, message string, restarts int32, phase corev1.PodPhase) func(*corev1.PodStatus) {
		return func(st *corev1.PodStatus) {
			base(st)
			st.Phase = phase
			st.Conditions = conditions(false)
			st.ContainerStatuses = nil
			for _, c := range pod.Spec.Containers {
				cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, RestartCount: restarts,
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}
				if restarts > 0 {
					cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
						ExitCode: 1, Reason: "Error", StartedAt: started, FinishedAt: metav1.Now()}}
				}
				st.ContainerStatuses = append(st.ContainerStatuses, cs)
			}
		}
	}
	image := pod.Spec.Containers[0].Image
	pullFailed := fmt.Sprintf("Failed to pull image %q: rpc error: code = NotFound desc = failed to pull and unpack image %q: not found", image, image)
	switch behaviour {
	case "ErrImagePull":
		for i := 0; ; i++ {
			reason, message := "ErrImagePull", pullFailed
			if i%2 == 1 {
				reason, message = "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q", image)
			}
			if !s.setStatus(pod, waiting(reason, message, 0, corev1.PodPending)) {
				return
			}
			time.Sleep(3 * time.Second)
		}
	case "CrashLoopBackOff":
		for restarts := int32(0); ; restarts++ {
			message := fmt.Sprintf("back-off %ds restarting failed container=%s pod=%s", 10<<min(restarts, 5), pod.Spec.Containers[0].Name, pod.Name)
			if !s.setStatus(pod, waiting("CrashLoopBackOff", message, restarts+1, corev1.PodRunning)) {
				return
			}
			time.Sleep(2 * time.Second)
		}
	case "FlakyPull":
		if !s.setStatus(pod, waiting("ErrImagePull", pullFailed, 0, corev1.PodPending)) {
			return
		}
		time.Sleep(4 * time.Second)
		seen = time.Now()
	}
	if !s.setStatus(pod, waiting("ContainerCreating", "", 0, corev1.PodPending)) || behaviour == "NeverReady" {
		return
	}
	time.Sleep(time.Until(seen.Add(delay)))
	s.setStatus(pod, func(st *corev1.PodStatus) {
		base(st)
		now := metav1.Now()
		st.Phase = corev1.PodRunning
		st.Conditions = conditions(true)
		st.ContainerStatuses = nil
		for _, c := range pod.Spec.Containers {
			st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image, ImageID: "standin://" + c.Image, ContainerID: "standin://" + string(pod.UID) + "/" + c.Name,
				Ready: true, Started: ptr.To(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			})
		}
	})
}

// claim provisions a volume for a claim of the stand-in's StorageClass.
func (s *standin) claim(pvc *corev1.PersistentVolumeClaim) {
	if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" ||
		pvc.Annotations["volume.kubernetes.io/storage-provisioner"] != provisionerName {
		return
	}
	ns, err := s.namespaces.Get(pvc.Namespace)
	if apierrors.IsNotFound(err) {
		// The claim's event came before its namespace reached the cache.
		ns, err = s.client.CoreV1().Namespaces().Get(s.ctx, pvc.Namespace, metav1.GetOptions{})
	}
	if err == nil && ns.Labels["kubelet-standin/provisioning"] == "off" {
		return
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-" + string(pvc.UID),
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisionerName}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              ptr.Deref(pvc.Spec.StorageClassName, storageClass),
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: "/standin/volumes/" + string(pvc.UID)}},
		},
	}
	if _, err := s.client.CoreV1().PersistentVolumes().Create(s.ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		fmt.Println("provisioning", pvc.Namespace, pvc.Name, err)
	}
}

// volume deletes a released volume it provisioned (reclaim policy Delete).
func (s *standin) volume(pv *corev1.PersistentVolume) {
	if pv.Status.Phase == corev1.VolumeReleased && pv.Annotations["pv.kubernetes.io/provisioned-by"] == provisionerName &&
		pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
		if err := s.client.CoreV1().PersistentVolumes().Delete(s.ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			fmt.Println("deleting volume", pv.Name, err)
		}
	}
}

// ingress writes the TLS Secret cert-manager would issue for it.
func (s *standin) ingress(ing *networkingv1.Ingress) {
	issuer := ing.Annotations["cert-manager.io/cluster-issuer"]
	if issuer == "" || ing.DeletionTimestamp != nil {
		return
	}
	issuers := s.dyn.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"})
	if _, err := issuers.Get(s.ctx, issuer, metav1.GetOptions{}); err != nil {
		return
	}
	for _, tls := range ing.Spec.TLS {
		if tls.SecretName == "" {
			continue
		}
		if _, err := s.client.CoreV1().Secrets(ing.Namespace).Get(s.ctx, tls.SecretName, metav1.GetOptions{}); err == nil {
			continue
		}
		cert, key, err := selfSigned(tls.Hosts)
		if err != nil {
			fmt.Println("certificate:", err)
			continue
		}
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: tls.SecretName, Namespace: ing.Namespace,
				Labels: map[string]string{"controller.cert-manager.io/fao": "true"},
				Annotations: map[string]string{
					"cert-manager.io/certificate-name": tls.SecretName,
					"cert-manager.io/issuer-name":      issuer,
					"cert-manager.io/issuer-kind":      "ClusterIssuer",
					"cert-manager.io/issuer-group":     "cert-manager.io",
					"cert-manager.io/alt-names":        strings.Join(tls.Hosts, ","),
				}},
			Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": cert, "tls.key": key},
		}
		if _, err := s.client.CoreV1().Secrets(ing.Namespace).Create(s.ctx, secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			fmt.Println("tls secret", ing.Namespace, tls.SecretName, err)
		}
	}
}
