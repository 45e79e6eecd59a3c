//! The test cluster: a real kube-apiserver with the CRDs (CEL stripped for
//! 1.20), the namespaces, and the controller's and the speaker's RBAC from
//! the chart, each bound to a client certificate. Shared by the controller's
//! and the speaker's integration tests. Every wait is bounded.

#![allow(dead_code)]

pub mod lab_nodes;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use ferrolb_crds::api::{IPAddressPool, IPAddressPoolSpec, L2Advertisement};
use interop_tests::apiserver::ApiServer;
use interop_tests::helm::{Helm, Release};
use k8s_openapi::api::core::v1::{Namespace, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ObjectMeta, Patch,
    PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config};

pub const NS: &str = "metallb-system";
pub const APPS: &str = "apps";
pub const CONTROLLER_USER: &str = "ferrolb-controller";
pub const SPEAKER_USER: &str = "ferrolb-speaker";

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The API server, an admin client and the controller's identity.
pub struct Cluster {
    pub admin: Client,
    pub controller_kubeconfig: std::path::PathBuf,
    /// Bound by the chart's speaker RBAC.
    pub speaker_kubeconfig: std::path::PathBuf,
    // Last: the server outlives the clients.
    pub server: ApiServer,
}

impl Cluster {
    /// Starts the server and installs CRDs, namespaces and RBAC.
    pub async fn start() -> TestResult<Cluster> {
        Cluster::start_with(&[]).await
    }

    /// [`Cluster::start`] with more kube-apiserver flags.
    pub async fn start_with(extra_args: &'static [&'static str]) -> TestResult<Cluster> {
        Cluster::start_for(extra_args, interop_tests::apiserver::LIFETIME).await
    }

    /// [`Cluster::start_with`], the API server and etcd living at most
    /// `lifetime` (a soak outlasts the default).
    pub async fn start_for(
        extra_args: &'static [&'static str],
        lifetime: Duration,
    ) -> TestResult<Cluster> {
        let server =
            tokio::task::spawn_blocking(move || ApiServer::start_for(extra_args, lifetime))
                .await??;
        let admin = client(&server.admin_kubeconfig()).await?;
        install_crds(&admin).await?;
        let namespaces: Api<Namespace> = Api::all(admin.clone());
        for ns in [NS, APPS] {
            let mut n = Namespace::default();
            n.metadata.name = Some(ns.into());
            namespaces.create(&PostParams::default(), &n).await?;
        }
        let identity = server.identity(CONTROLLER_USER, &[])?;
        apply_rbac(&admin, CONTROLLER_USER, "controller-rbac.yaml").await?;
        let speaker = server.identity(SPEAKER_USER, &[])?;
        apply_rbac(&admin, SPEAKER_USER, "speaker-rbac.yaml").await?;
        Ok(Cluster {
            admin,
            controller_kubeconfig: identity.kubeconfig,
            speaker_kubeconfig: speaker.kubeconfig,
            server,
        })
    }

    /// A client with exactly the controller's RBAC.
    pub async fn controller_client(&self) -> TestResult<Client> {
        client(&self.controller_kubeconfig).await
    }

    /// The flags of `ferrolb-controller` against this cluster, as replica
    /// `controller-0`, its metrics on a free port of its namespace's
    /// loopback.
    pub fn controller_args(&self) -> Vec<String> {
        [
            "--kubeconfig",
            &self.controller_kubeconfig.display().to_string(),
            "--namespace",
            NS,
            "--identity",
            "controller-0",
            "--metrics-addr",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// The flags of `ferrolb-speaker` on `node` against this cluster, with
    /// the speaker's RBAC: no BGP listener (the lab routers connect to
    /// nobody) and metrics on the node's own loopback.
    pub fn speaker_args(&self, node: &str) -> Vec<String> {
        self.speaker_args_listening(node, "off")
    }

    /// [`Cluster::speaker_args`] with the BGP listener at `listen` (e.g.
    /// `[::]:179`, a deployed speaker's default: the routers may dial it).
    pub fn speaker_args_listening(&self, node: &str, listen: &str) -> Vec<String> {
        [
            "--kubeconfig",
            &self.speaker_kubeconfig.display().to_string(),
            "--node-name",
            node,
            "--namespace",
            NS,
            "--bgp-listen",
            listen,
            "--metrics-addr",
            "127.0.0.1:7472",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

pub async fn client(kubeconfig: &Path) -> TestResult<Client> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

async fn install_crds(admin: &Client) -> TestResult {
    let api: Api<CustomResourceDefinition> = Api::all(admin.clone());
    let mut names = Vec::new();
    for generated in ferrolb_crds::crdgen::all()? {
        let crd = ferrolb_crds::crdgen::strip_cel(&generated.crd)?;
        names.push(crd.metadata.name.clone().unwrap_or_default());
        api.create(&PostParams::default(), &crd).await?;
    }
    for name in names {
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(api.clone(), &name, conditions::is_crd_established()),
        )
        .await??;
    }
    Ok(())
}

/// Applies the chart's ClusterRole and Role as Helm renders them with the
/// default values, bound to `user` instead of the ServiceAccount (the test
/// server issues no service-account tokens).
async fn apply_rbac(admin: &Client, user: &str, file: &str) -> TestResult {
    let release = Release::new("ferrolb", NS).show_only(file);
    let docs = tokio::task::spawn_blocking(move || Helm::new()?.render(&release)).await??;
    let subject = Subject {
        kind: "User".into(),
        name: user.into(),
        api_group: Some("rbac.authorization.k8s.io".into()),
        namespace: None,
    };
    let pp = PostParams::default();
    for value in docs {
        match value["kind"].as_str().unwrap_or_default() {
            "ClusterRole" => {
                let o: ClusterRole = serde_json::from_value(value)?;
                Api::<ClusterRole>::all(admin.clone())
                    .create(&pp, &o)
                    .await?;
            }
            "Role" => {
                let o: Role = serde_json::from_value(value)?;
                Api::<Role>::namespaced(admin.clone(), NS)
                    .create(&pp, &o)
                    .await?;
            }
            "ClusterRoleBinding" => {
                let mut o: ClusterRoleBinding = serde_json::from_value(value)?;
                o.subjects = Some(vec![subject.clone()]);
                Api::<ClusterRoleBinding>::all(admin.clone())
                    .create(&pp, &o)
                    .await?;
            }
            "RoleBinding" => {
                let mut o: RoleBinding = serde_json::from_value(value)?;
                o.subjects = Some(vec![subject.clone()]);
                Api::<RoleBinding>::namespaced(admin.clone(), NS)
                    .create(&pp, &o)
                    .await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Polls `probe` until it gives `Some`, at most `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> TestResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = TestResult<Option<T>>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await? {
            return Ok(v);
        }
        if start.elapsed() > limit {
            return Err(format!("timed out after {limit:?} waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn pool(name: &str, addresses: &[&str]) -> IPAddressPool {
    IPAddressPool {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        spec: IPAddressPoolSpec {
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        },
        status: None,
    }
}

/// Creates pools and an L2Advertisement announcing every pool.
pub async fn configure(admin: &Client, pools: Vec<IPAddressPool>) -> TestResult {
    let api: Api<IPAddressPool> = Api::namespaced(admin.clone(), NS);
    for p in pools {
        api.create(&PostParams::default(), &p).await?;
    }
    let mut l2 = L2Advertisement::new("all", Default::default());
    l2.metadata.namespace = Some(NS.into());
    Api::<L2Advertisement>::namespaced(admin.clone(), NS)
        .create(&PostParams::default(), &l2)
        .await?;
    Ok(())
}

pub fn lb_service(name: &str, annotations: &[(&str, &str)], port: i32) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(APPS.into()),
            annotations: (!annotations.is_empty()).then(|| {
                annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()
            }),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("LoadBalancer".into()),
            ports: Some(vec![ServicePort {
                port,
                ..Default::default()
            }]),
            selector: Some([("app".to_string(), name.to_string())].into()),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn services(admin: &Client) -> Api<Service> {
    Api::namespaced(admin.clone(), APPS)
}

pub async fn create(admin: &Client, svc: Service) -> TestResult<Service> {
    Ok(services(admin).create(&PostParams::default(), &svc).await?)
}

pub async fn delete(admin: &Client, name: &str) -> TestResult {
    services(admin)
        .delete(name, &DeleteParams::default())
        .await?;
    Ok(())
}

/// The ingress IPs of a Service.
pub fn ingress(svc: &Service) -> Vec<String> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref())
        .map(|i| i.iter().filter_map(|x| x.ip.clone()).collect())
        .unwrap_or_default()
}

pub fn annotation<'a>(svc: &'a Service, key: &str) -> Option<&'a str> {
    svc.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// Waits until the Service has addresses; returns it.
pub async fn wait_assigned(admin: &Client, name: &str) -> TestResult<Service> {
    let api = services(admin);
    wait_for(
        &format!("an address on {name}"),
        Duration::from_secs(30),
        || {
            let api = api.clone();
            async move {
                let svc = api.get(name).await?;
                Ok((!ingress(&svc).is_empty()).then_some(svc))
            }
        },
    )
    .await
}

/// Events regarding `name` (any kind) in `namespace`: `(reason, note,
/// reporting instance)`.
pub async fn events(
    admin: &Client,
    namespace: &str,
    name: &str,
) -> TestResult<Vec<(String, String, String)>> {
    let api: Api<Event> = Api::namespaced(admin.clone(), namespace);
    let mut out: Vec<(String, String, String)> = api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.regarding
                .as_ref()
                .is_some_and(|r| r.name.as_deref() == Some(name))
        })
        .map(|e| {
            (
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default(),
                e.reporting_instance.unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Waits for an Event with `reason` on `name`; returns its note.
pub async fn wait_event(admin: &Client, ns: &str, name: &str, reason: &str) -> TestResult<String> {
    wait_for(
        &format!("a {reason} event on {name}"),
        Duration::from_secs(30),
        || async move {
            Ok(events(admin, ns, name)
                .await?
                .into_iter()
                .find(|(r, _, _)| r == reason)
                .map(|(_, note, _)| note))
        },
    )
    .await
}

/// Runs an async test body on a fresh runtime (the API server fixture is
/// synchronous and must outlive it).
pub fn block_on<F: Future<Output = TestResult>>(f: F) -> TestResult {
    runtime()?.block_on(f)
}

/// The runtime [`block_on`] runs on, for a test that goes in and out of
/// it (synchronous lab waits between API calls).
pub fn runtime() -> TestResult<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The one endpoint of Service `service` (in [`APPS`]), on `node`, ready or
/// not: a v1beta1 EndpointSlice as Kubernetes 1.20's EndpointSlice
/// controller writes it.
pub async fn set_endpoint(admin: &Client, service: &str, node: &str, ready: bool) -> TestResult {
    let gvk = GroupVersionKind::gvk("discovery.k8s.io", "v1beta1", "EndpointSlice");
    let api: Api<DynamicObject> =
        Api::namespaced_with(admin.clone(), APPS, &ApiResource::from_gvk(&gvk));
    let name = format!("{service}-1");
    let slice = serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": APPS,
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": ready},
                       "topology": {"kubernetes.io/hostname": node}}],
        "ports": [{"port": 80, "protocol": "TCP"}]
    });
    let params = PatchParams::apply("test").force();
    api.patch(&name, &params, &Patch::Apply(&slice)).await?;
    Ok(())
}
