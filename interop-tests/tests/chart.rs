//! The Helm chart, with real Helm v4: `helm lint --strict`; `helm template`
//! compared with checked-in golden renderings (defaults, seed 001's MetalLB
//! values file verbatim, a values file with every MetalLB key); what each
//! rendering must say; refusals (unknown keys, FRR, ...); every flag and
//! variable the chart passes exists in the binary it starts; every metric
//! the alerts use is one FerroLB exports; and `helm install` / `helm
//! upgrade` on the real kube-apiserver 1.20, with every field of the
//! workloads kept and the memberlist key kept across the upgrade.
//!
//! Regenerate the golden files after a deliberate change:
//!   UPDATE_GOLDEN=1 cargo test -p interop-tests --test chart golden

#[path = "cluster_support/mod.rs"]
mod cluster_support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use cluster_support::{NS, TestResult, block_on, client};
use interop_tests::apiserver::ApiServer;
use interop_tests::ferrolb::workspace_binary;
use interop_tests::helm::{Helm, Release, fixtures_dir, of_kind, parse_documents};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

/// The three renderings with golden files: (name, values file).
const CASES: [(&str, Option<&str>); 3] = [
    ("defaults", None),
    ("seed-001", Some("seed-001-values.yaml")),
    ("every-key", Some("metallb-every-key-values.yaml")),
];

fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

fn release(values: Option<&str>) -> Release {
    let r = Release::new("ferrolb", NS);
    match values {
        Some(v) => r.values(fixture(v)),
        None => r,
    }
}

fn seed() -> Release {
    Release::new("metallb", NS).values(fixture("seed-001-values.yaml"))
}

fn every_key() -> Release {
    release(Some("metallb-every-key-values.yaml"))
}

/// The only random part of a rendering: the memberlist key.
fn normalise(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("  secretkey: ") {
            Some(_) => "  secretkey: <random>",
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn container<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["spec"]["template"]["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

fn args(c: &Value) -> Vec<&str> {
    c["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "one {kind} expected, got {}", found.len());
    found[0]
}

fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    of_kind(docs, kind)
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn helm_error(result: interop_tests::Result<String>) -> String {
    match result {
        Ok(out) => panic!("helm accepted it:\n{out}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn lint_is_strictly_clean_with_every_values_file() -> TestResult {
    let helm = Helm::new()?;
    for (_, values) in CASES {
        let out = helm.lint(&release(values))?;
        assert!(out.contains("0 chart(s) failed"), "{out}");
        assert!(!out.contains("[WARNING]"), "{out}");
    }
    Ok(())
}

#[test]
fn golden_renderings() -> TestResult {
    let helm = Helm::new()?;
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (case, values) in CASES {
        let path = fixture(&format!("golden/{case}.yaml"));
        let rendered = normalise(&helm.template(&release(values))?);
        if update {
            std::fs::create_dir_all(fixture("golden"))?;
            std::fs::write(&path, &rendered)?;
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()))?;
        if golden != rendered {
            let diff = golden
                .lines()
                .zip(rendered.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| format!("line {}: golden {a:?}, rendered {b:?}", i + 1))
                .unwrap_or_else(|| "the lengths differ".into());
            return Err(format!(
                "{case}: helm template differs from {} ({diff}); if the change is meant, \
                 regenerate with UPDATE_GOLDEN=1 cargo test -p interop-tests --test chart golden",
                path.display()
            )
            .into());
        }
    }
    Ok(())
}

#[test]
fn the_memberlist_key_is_random_and_long() -> TestResult {
    let helm = Helm::new()?;
    let key = |docs: &[Value]| one(docs, "Secret")["data"]["secretkey"].clone();
    let (a, b) = (helm.render(&release(None))?, helm.render(&release(None))?);
    assert_eq!(one(&a, "Secret")["metadata"]["name"], "memberlist");
    assert_ne!(key(&a), key(&b), "two installs share a key");
    assert!(key(&a).as_str().is_some_and(|k| k.len() >= 128));
    let off = helm.render(&release(None).set("speaker.memberlist.enabled=false"))?;
    assert!(of_kind(&off, "Secret").is_empty());
    Ok(())
}

/// Seed 001 passes Bitnami's values: configInline pools, speaker
/// tolerations, controller resources.
#[test]
fn seed_001_renders_what_it_says() -> TestResult {
    let docs = Helm::new()?.render(&seed())?;
    let ds = one(&docs, "DaemonSet");
    assert_eq!(ds["metadata"]["name"], "metallb-ferrolb-speaker");
    let tolerations = ds["spec"]["template"]["spec"]["tolerations"]
        .as_array()
        .ok_or("no tolerations")?;
    let master = json!({"key": "node-role.kubernetes.io/master", "effect": "NoSchedule", "operator": "Exists"});
    assert_eq!(
        tolerations.iter().filter(|t| **t == master).count(),
        1,
        "{tolerations:?}"
    );
    let controller = container(one(&docs, "Deployment"), "controller");
    assert_eq!(
        controller["resources"],
        json!({"limits": {"cpu": "200m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}})
    );
    let pools: Vec<(&Value, &Value)> = of_kind(&docs, "IPAddressPool")
        .into_iter()
        .map(|p| (&p["metadata"]["name"], &p["spec"]["addresses"]))
        .collect();
    assert_eq!(
        pools,
        [
            (&json!("default"), &json!(["192.168.1.200-192.168.1.250"])),
            (
                &json!("critical-services"),
                &json!(["192.168.1.100-192.168.1.110"])
            ),
        ]
    );
    for pool in ["default", "critical-services"] {
        let l2 = named(&docs, "L2Advertisement", pool);
        assert_eq!(l2["spec"]["ipAddressPools"], json!([pool]));
        assert_eq!(l2["metadata"]["namespace"], NS);
    }
    assert!(of_kind(&docs, "BGPAdvertisement").is_empty());
    Ok(())
}

/// The speaker is scheduled as node-critical and requests CPU by
/// default (a starved speaker looks dead to the others); MetalLB's own
/// values keep their meaning: `""` sets no class, any `resources` replace
/// the default whole.
#[test]
fn the_speaker_is_node_critical_and_requests_cpu_unless_told_otherwise() -> TestResult {
    let helm = Helm::new()?;
    let speaker_pod = |release: &Release| -> TestResult<(Value, Value)> {
        let docs = helm.render(release)?;
        let ds = one(&docs, "DaemonSet");
        Ok((
            ds["spec"]["template"]["spec"]["priorityClassName"].clone(),
            container(ds, "speaker")["resources"].clone(),
        ))
    };
    let (class, resources) = speaker_pod(&release(None))?;
    assert_eq!(class, "system-node-critical");
    assert_eq!(resources, json!({"requests": {"cpu": "100m"}}));
    let metallb = release(None)
        .set("speaker.priorityClassName=")
        .set("speaker.resources.limits.memory=100Mi");
    let (class, resources) = speaker_pod(&metallb)?;
    assert_eq!(class, Value::Null);
    assert_eq!(resources, json!({"limits": {"memory": "100Mi"}}));
    Ok(())
}

#[test]
fn every_key_renders_what_it_says() -> TestResult {
    let docs = Helm::new()?.render(&every_key())?;
    let deployment = one(&docs, "Deployment");
    let daemonset = one(&docs, "DaemonSet");
    let (controller, speaker) = (
        container(deployment, "controller"),
        container(daemonset, "speaker"),
    );
    for c in [controller, speaker] {
        assert!(args(c).contains(&"--lb-class=example.com/ferrolb"), "{c}");
        assert!(args(c).contains(&"--metrics-addr=0.0.0.0:9120"), "{c}");
        assert_eq!(c["image"], "registry.example.com/ferrolb/ferrolb:0.1.0-rc1");
        assert_eq!(
            c["ports"][0],
            json!({"name": "metrics", "containerPort": 9120})
        );
    }
    // The levels go to a ConfigMap each component reads again at run time
    // (a change needs no restart), not to the pods' arguments.
    let levels = named(&docs, "ConfigMap", "edge-lb-log-level");
    assert_eq!(
        levels["data"],
        json!({"controller": "debug", "speaker": "warn"})
    );
    for (c, name, pod) in [
        (controller, "controller", deployment),
        (speaker, "speaker", daemonset),
    ] {
        let file = format!("--log-level-file=/etc/ferrolb/log-level/{name}");
        assert!(args(c).contains(&file.as_str()), "{c}");
        assert!(args(c).contains(&"--log-format=json"), "{c}");
        assert!(
            !args(c).iter().any(|a| a.starts_with("--log-level=")),
            "{c}"
        );
        let volumes = pod["spec"]["template"]["spec"]["volumes"].as_array();
        assert!(
            volumes
                .into_iter()
                .flatten()
                .any(|v| v["configMap"]["name"] == "edge-lb-log-level"
                    && v["configMap"]["optional"] == true),
            "{pod}"
        );
        assert!(
            c["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["mountPath"] == "/etc/ferrolb/log-level"),
            "{c}"
        );
    }
    assert!(args(controller).contains(&"--lease-name=edge-lb-controller"));
    assert!(args(speaker).contains(&"--l2-refresh=30s"));
    assert!(args(speaker).contains(&"--ml-heartbeat=20ms"));
    assert!(args(speaker).contains(&"--graceful-restart-time=45s"));
    assert!(args(speaker).contains(&"--graceful-restart-on-shutdown"));
    assert_eq!(
        daemonset["spec"]["template"]["spec"]["volumes"][0]["hostPath"],
        json!({"path": "/var/run/ferrolb-edge", "type": "DirectoryOrCreate"})
    );
    assert!(args(speaker).contains(&"--bgp-listen=0.0.0.0:1179"));
    assert!(args(speaker).contains(&"--ml-bind-port=7947"));
    assert!(speaker["ports"].as_array().is_some_and(|ps| {
        ps.contains(&json!({"name": "memberlist-udp", "containerPort": 7947, "protocol": "UDP"}))
    }));
    assert!(args(speaker).contains(
        &"--speaker-selector=app.kubernetes.io/name=lb,app.kubernetes.io/instance=ferrolb,app.kubernetes.io/component=speaker"
    ));
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(
        controller["livenessProbe"],
        json!({"httpGet": {"path": "/healthz", "port": "metrics"}, "initialDelaySeconds": 3,
               "periodSeconds": 20, "timeoutSeconds": 2, "successThreshold": 1, "failureThreshold": 5})
    );
    let pod = &daemonset["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["serviceAccountName"], "lb-speaker");
    assert_eq!(
        pod["imagePullSecrets"],
        json!([{"name": "registry-credentials"}])
    );
    // tolerateMaster is off: only the user's toleration.
    assert_eq!(
        pod["tolerations"],
        json!([{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule", "operator": "Exists"}])
    );
    assert_eq!(
        speaker["securityContext"]["capabilities"],
        json!({"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "NET_RAW", "SYS_NICE"]})
    );
    assert_eq!(
        container(daemonset, "tcpdump")["image"],
        "registry.example.com/tcpdump:4.99"
    );
    assert_eq!(
        daemonset["spec"]["template"]["metadata"]["annotations"],
        json!({"example.com/team": "network", "prometheus.io/scrape": "true", "prometheus.io/port": "9120"})
    );

    // Monitoring: two PodMonitors, two ServiceMonitors over two headless
    // Services, the Role for Prometheus, the rules.
    assert_eq!(of_kind(&docs, "PodMonitor").len(), 2);
    for component in ["controller", "speaker"] {
        let name = format!("edge-lb-{component}-monitor");
        let monitor = named(&docs, "ServiceMonitor", &name);
        let service = named(&docs, "Service", &name);
        assert_eq!(service["spec"]["clusterIP"], "None");
        assert_eq!(service["spec"]["ports"][0]["port"], 9120);
        assert_eq!(
            monitor["spec"]["selector"]["matchLabels"]["ferrolb.io/metrics-service"],
            service["metadata"]["labels"]["ferrolb.io/metrics-service"]
        );
        assert_eq!(monitor["spec"]["endpoints"][0]["interval"], "15s");
        assert_eq!(monitor["metadata"]["labels"]["release"], "kube-prometheus");
    }
    let binding = named(&docs, "RoleBinding", "edge-lb-prometheus");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"}])
    );
    let rules = alert_rules(&docs);
    let alerts: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
    assert_eq!(
        alerts,
        [
            "MetalLBStaleConfig",
            "MetalLBConfigNotLoaded",
            "MetalLBAddressPoolExhausted",
            "MetalLBAddressPoolUsage80Percent",
            "MetalLBAddressPoolUsage90Percent",
            "MetalLBBGPSessionDown",
            "FerroLBLayer2MembershipUnauthenticated",
            "FerroLBAddressConflict",
        ]
    );
    let unauthenticated = rules
        .iter()
        .find(|r| r["alert"] == "FerroLBLayer2MembershipUnauthenticated");
    assert_eq!(
        unauthenticated.map(|r| &r["labels"]),
        Some(&json!({"severity": "page"}))
    );

    // configInline: every key of the legacy format.
    let peer = named(&docs, "BGPPeer", "edge-lb-peer-0");
    assert_eq!(peer["apiVersion"], "metallb.io/v1beta2");
    assert_eq!(
        peer["spec"],
        json!({"myASN": 4200000001u32, "peerASN": 64500, "peerAddress": "10.0.0.1",
               "sourceAddress": "10.0.0.11", "peerPort": 1179, "holdTime": "90s",
               "keepaliveTime": "30s", "routerID": "10.0.0.11", "password": "s3cret",
               "bfdProfile": "fast", "ebgpMultiHop": true,
               "nodeSelectors": [{"matchLabels": {"rack": "frontend"},
                   "matchExpressions": [{"key": "network-speed", "operator": "NotIn", "values": ["slow"]}]}]})
    );
    assert_eq!(
        named(&docs, "IPAddressPool", "public")["spec"],
        json!({"addresses": ["198.51.100.0/24", "2001:db8:1::/120"], "autoAssign": false, "avoidBuggyIPs": true})
    );
    assert_eq!(
        named(&docs, "BGPAdvertisement", "public-0")["spec"],
        json!({"ipAddressPools": ["public"], "aggregationLength": 32, "aggregationLengthV6": 128,
               "localPref": 100, "communities": ["no-advertise", "64512:200"]})
    );
    assert_eq!(
        named(&docs, "BGPAdvertisement", "backup")["spec"],
        json!({"ipAddressPools": ["backup"]})
    );
    assert_eq!(
        named(&docs, "L2Advertisement", "lan")["spec"],
        json!({"ipAddressPools": ["lan"]})
    );
    assert_eq!(
        one(&docs, "Community")["spec"]["communities"],
        json!([{"name": "customer", "value": "64512:100"}, {"name": "no-advertise", "value": "65535:65282"}])
    );
    assert_eq!(
        named(&docs, "BFDProfile", "fast")["spec"],
        json!({"detectMultiplier": 5, "echoInterval": 50, "minimumTtl": 254, "receiveInterval": 100,
               "transmitInterval": 100, "echoMode": false, "passiveMode": true})
    );
    Ok(())
}

fn alert_rules(docs: &[Value]) -> Vec<Value> {
    one(docs, "PrometheusRule")["spec"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The sample names FerroLB's controller and speaker export (a counter `x`
/// is exported as `x_total`), each family given one sample: a family
/// without samples is not encoded at all.
fn exported_metrics() -> TestResult<BTreeSet<String>> {
    use ferrolb_controller::ipam::stats::{FamilyStats, PoolStats};
    use ferrolb_speaker::metrics::Layer2Count;

    let mut registry = prometheus_client::registry::Registry::default();
    let controller = ferrolb_controller::metrics::Metrics::register(&mut registry);
    controller.update(&[PoolStats {
        pool: "p".into(),
        v4: FamilyStats::default(),
        v6: FamilyStats::default(),
    }]);
    let speaker = ferrolb_speaker::metrics::Metrics::register(&mut registry);
    speaker.sessions([("10.0.0.1".to_string(), &Default::default())]);
    let ip = "10.1.0.1".parse()?;
    let service = ferrolb_speaker::decide::ServiceKey::new("ns", "svc");
    speaker.announced_changed("n1", "bgp", [], [(&service, ip)]);
    for kind in [
        Layer2Count::Request,
        Layer2Count::Response,
        Layer2Count::Gratuitous,
        Layer2Count::Conflict,
    ] {
        speaker.layer2(ip, kind);
    }
    speaker.client.config_loaded();
    // A running membership: its gauges are written only while it runs.
    let (_stats, stats) = tokio::sync::watch::channel(ferrolb_l2::membership::Stats::default());
    let (_view, view) = tokio::sync::watch::channel(ferrolb_l2::membership::View::default());
    speaker.membership.follow(stats, view);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (name, kind) = (parts.next()?, parts.next()?);
            Some(match kind {
                "counter" => format!("{name}_total"),
                _ => name.to_string(),
            })
        })
        .collect())
}

#[test]
fn every_metric_the_alerts_use_is_exported() -> TestResult {
    let exported = exported_metrics()?;
    for m in [
        "metallb_bgp_session_up",
        "metallb_allocator_addresses_total",
        "ferrolb_layer2_address_conflicts_total",
        "ferrolb_membership_datagrams_rejected_total",
        "ferrolb_membership_members_at_another_pace",
    ] {
        assert!(exported.contains(m), "{m}: {exported:?}");
    }
    let docs = Helm::new()?.render(&every_key())?;
    for rule in alert_rules(&docs) {
        let expr = rule["expr"].as_str().unwrap_or_default();
        let metrics: Vec<&str> = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("metallb_") || w.starts_with("ferrolb_"))
            .collect();
        assert!(!metrics.is_empty(), "{expr}");
        for m in metrics {
            assert!(
                exported.contains(m),
                "alert {} uses {m}, which FerroLB does not export ({exported:?})",
                rule["alert"]
            );
        }
    }
    Ok(())
}

/// The dashboard: off by default; on, a ConfigMap carrying the sidecar's
/// label and the checked-in JSON verbatim, where the values say.
#[test]
fn the_grafana_dashboard_ships_as_a_sidecar_configmap_when_asked() -> TestResult {
    let helm = Helm::new()?;
    let configmaps = |docs: &[Value]| -> Vec<Value> {
        of_kind(docs, "ConfigMap")
            .into_iter()
            .filter(|c| c["data"].get("ferrolb.json").is_some())
            .cloned()
            .collect()
    };
    assert!(configmaps(&helm.render(&release(None))?).is_empty());
    let docs = helm.render(
        &release(None)
            .set("grafanaDashboard.enabled=true")
            .set("grafanaDashboard.namespace=monitoring")
            .set("grafanaDashboard.annotations.grafana_folder=Network")
            .set("grafanaDashboard.additionalLabels.team=net"),
    )?;
    let found = configmaps(&docs);
    assert_eq!(found.len(), 1, "{found:?}");
    let cm = &found[0];
    assert_eq!(cm["metadata"]["namespace"], "monitoring");
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(cm["metadata"]["labels"]["team"], "net");
    assert_eq!(cm["metadata"]["annotations"]["grafana_folder"], "Network");
    let shipped: Value = serde_json::from_str(cm["data"]["ferrolb.json"].as_str().unwrap_or(""))?;
    let checked_in: Value = serde_json::from_str(&std::fs::read_to_string(
        interop_tests::helm::chart_dir().join("dashboards/ferrolb.json"),
    )?)?;
    assert_eq!(shipped, checked_in);
    let relabelled = helm.render(
        &release(None)
            .set("grafanaDashboard.enabled=true")
            .set("grafanaDashboard.label=dashboards")
            .set("grafanaDashboard.labelValue=ferrolb"),
    )?;
    assert_eq!(
        configmaps(&relabelled)[0]["metadata"]["labels"]["dashboards"],
        "ferrolb"
    );
    Ok(())
}

#[test]
fn unknown_keys_and_machinery_ferrolb_lacks_are_refused() -> TestResult {
    let helm = Helm::new()?;
    let refused = |set: &str, expect: &str| {
        let e = helm_error(helm.template(&release(None).set(set)));
        assert!(e.contains(expect), "--set {set}: {e}");
    };
    refused(
        "speaker.tolerationz[0].key=a",
        "additional properties 'tolerationz' not allowed",
    );
    refused("controller.imagee.tag=x", "'imagee' not allowed");
    refused("grafanaDashboard.enable=true", "'enable' not allowed");
    refused("prometheus.podMonitor.enable=true", "'enable' not allowed");
    refused("speaker.logLevel=verbose", "logLevel");
    refused("speaker.frr.enabled=true", "runs no FRR container");
    refused("frrk8s.enabled=true", "no frr-k8s backend");
    refused("networkpolicies.enabled=true", "ships no NetworkPolicies");
    refused("tls.minVersion=VersionTLS13", "plain HTTP");
    refused("controller.webhookMode=certmanager", "no admission webhook");
    refused("crds.enabled=false", "--skip-crds");
    let all = helm.render(&release(None).set("speaker.excludeInterfaces.enabled=false"))?;
    assert!(
        args(container(one(&all, "DaemonSet"), "speaker")).contains(&"--l2-no-exclude-interfaces")
    );
    refused(
        "speaker.ignoreExcludeLB=true",
        "exclude-from-external-load-balancers",
    );
    refused(
        "controller.livenessProbe.port=17472",
        "on the metrics port only",
    );
    refused(
        "prometheus.serviceMonitor.enabled=true",
        "prometheus.serviceAccount",
    );
    refused(
        "configInline.address-pools[0].name=a,configInline.address-pools[0].protocol=layer2,configInline.address-pools[0].addresses[0]=10.0.0.1/32,configInline.address-pools[0].arp-network=x",
        "configInline.address-pools[0].arp-network: not a key of MetalLB's legacy configuration",
    );
    refused(
        "configInline.address-pools[0].name=a,configInline.address-pools[0].protocol=arp,configInline.address-pools[0].addresses[0]=10.0.0.1/32",
        "protocol \"arp\" is not one of layer2, bgp",
    );
    refused("configInline.peer-autodiscovery.x=1", "peer-autodiscovery");
    // Bitnami's --set form of seed 001 works.
    let docs = helm.render(
        &release(None)
            .set("configInline.address-pools[0].name=default")
            .set("configInline.address-pools[0].protocol=layer2")
            .set("configInline.address-pools[0].addresses[0]=192.168.1.200-192.168.1.250"),
    )?;
    assert_eq!(one(&docs, "IPAddressPool")["metadata"]["name"], "default");
    Ok(())
}

#[test]
fn every_flag_and_variable_the_chart_passes_exists() -> TestResult {
    let helm = Helm::new()?;
    let variants = [
        release(None),
        every_key(),
        release(None).set("speaker.excludeInterfaces.enabled=false"),
    ];
    for variant in &variants {
        let docs = helm.render(variant)?;
        for (kind, name, binary, package) in [
            (
                "Deployment",
                "controller",
                "ferrolb-controller",
                "ferrolb-controller",
            ),
            ("DaemonSet", "speaker", "ferrolb-speaker", "ferrolb-speaker"),
        ] {
            let c = container(one(&docs, kind), name);
            assert_eq!(c["command"][0], format!("/usr/local/bin/{binary}"));
            let help = Command::new(workspace_binary(binary, package)?)
                .arg("--help")
                .output()?;
            let help = String::from_utf8(help.stdout)?;
            for arg in args(c) {
                let flag = arg.split('=').next().unwrap_or_default();
                assert!(
                    help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                    "{binary} has no {flag}:\n{help}"
                );
            }
            for env in c["env"].as_array().into_iter().flatten() {
                let var = env["name"].as_str().unwrap_or_default();
                assert!(
                    help.contains(&format!("env: {var}")),
                    "{binary} does not read {var}:\n{help}"
                );
            }
        }
    }
    Ok(())
}

/// `helm install` of seed 001's values and of every key on the real API
/// server: Helm installs the CRDs from crds/ (client-side: 1.20 refuses
/// server-side apply of CEL rules), then every object; the server keeps
/// every field of the workloads; configInline's objects pass the CRDs'
/// schemas; `helm upgrade` keeps the memberlist key.
#[test]
fn helm_installs_and_upgrades_on_a_real_api_server() -> TestResult {
    let helm = Helm::new()?;
    let server = ApiServer::start()?;
    let kubeconfig = server.admin_kubeconfig();
    block_on(async {
        let admin = client(&kubeconfig).await?;
        let namespaces: Api<Namespace> = Api::all(admin.clone());
        for ns in [NS, "edge"] {
            let mut n = Namespace::default();
            n.metadata.name = Some(ns.into());
            namespaces.create(&PostParams::default(), &n).await?;
        }
        Ok(())
    })?;
    // The monitoring objects need the Prometheus operator's CRDs, which this
    // server does not have; every other key stays.
    let every = Release::new("ferrolb", "edge")
        .values(fixture("metallb-every-key-values.yaml"))
        .set("prometheus.podMonitor.enabled=false")
        .set("prometheus.serviceMonitor.enabled=false")
        .set("prometheus.prometheusRule.enabled=false");
    for r in [seed(), every] {
        helm.install(&r, &kubeconfig, false)?;
        let rendered = helm.render(&r)?;
        let ns = r.namespace.clone();
        block_on(async {
            let admin = client(&kubeconfig).await?;
            for doc in &rendered {
                let name = doc["metadata"]["name"].as_str().unwrap_or_default();
                let stored = match doc["kind"].as_str().unwrap_or_default() {
                    "Deployment" => serde_json::to_value(
                        Api::<Deployment>::namespaced(admin.clone(), &ns)
                            .get(name)
                            .await?,
                    )?,
                    "DaemonSet" => serde_json::to_value(
                        Api::<DaemonSet>::namespaced(admin.clone(), &ns)
                            .get(name)
                            .await?,
                    )?,
                    kind @ ("IPAddressPool" | "L2Advertisement" | "BGPAdvertisement"
                    | "BGPPeer" | "Community" | "BFDProfile") => {
                        let (group, version) = doc["apiVersion"]
                            .as_str()
                            .and_then(|v| v.split_once('/'))
                            .ok_or("no apiVersion")?;
                        let resource =
                            ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
                        serde_json::to_value(
                            Api::<DynamicObject>::namespaced_with(admin.clone(), &ns, &resource)
                                .get(name)
                                .await?,
                        )?
                    }
                    _ => continue,
                };
                if let Some(missing) = first_missing(doc, &stored, String::new()) {
                    return Err(format!("{ns}/{name}: the server dropped {missing}").into());
                }
            }
            Ok(())
        })?;
    }
    let key = || -> TestResult<Option<String>> {
        block_on_value(async {
            let admin = client(&kubeconfig).await?;
            let secret = Api::<Secret>::namespaced(admin, NS)
                .get("memberlist")
                .await?;
            Ok(secret.data.and_then(|d| {
                d.get("secretkey")
                    .map(|k| String::from_utf8_lossy(&k.0).into_owned())
            }))
        })
    };
    let before = key()?.ok_or("no memberlist key after install")?;
    assert!(before.len() >= 128, "{before}");
    helm.install(&seed(), &kubeconfig, true)?;
    assert_eq!(
        key()?.as_deref(),
        Some(before.as_str()),
        "the upgrade changed the key"
    );
    let status = helm.run(&[
        "status",
        "metallb",
        "-n",
        NS,
        "--kubeconfig",
        &kubeconfig.display().to_string(),
    ])?;
    assert!(
        status.contains("STATUS: deployed") && status.contains("REVISION: 2"),
        "{status}"
    );
    drop(server);
    Ok(())
}

fn block_on_value<T, F: std::future::Future<Output = TestResult<T>>>(f: F) -> TestResult<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// The first path of `sent` that `stored` lacks or holds another value at.
fn first_missing(sent: &Value, stored: &Value, path: String) -> Option<String> {
    match (sent, stored) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, v)| match b.get(k) {
            Some(w) => first_missing(v, w, format!("{path}.{k}")),
            None => Some(format!("{path}.{k}")),
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (v, w))| first_missing(v, w, format!("{path}[{i}]"))),
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path} ({a} became {b})")),
    }
}

#[test]
fn a_packaged_chart_renders_as_the_directory_does() -> TestResult {
    let helm = Helm::new()?;
    let dir = std::env::temp_dir().join(format!("ferrolb-chart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let out = helm.run(&[
        "package",
        &interop_tests::helm::chart_dir().display().to_string(),
        "--destination",
        &dir.display().to_string(),
    ]);
    let result = (|| -> TestResult {
        out?;
        let tgz = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "tgz"))
            .ok_or("helm package wrote no .tgz")?;
        let from_package = helm.run(&[
            "template",
            "metallb",
            &tgz.display().to_string(),
            "--namespace",
            NS,
            "--values",
            &fixture("seed-001-values.yaml").display().to_string(),
        ])?;
        let from_dir = helm.template(&seed())?;
        assert_eq!(normalise(&from_package), normalise(&from_dir));
        assert!(!parse_documents(&from_package)?.is_empty());
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
