//! The test API server: etcd and kube-apiserver 1.20 come up on loopback,
//! authenticate client certificates, enforce RBAC, and are gone afterwards.

use std::path::Path;

use interop_tests::apiserver::ApiServer;

#[test]
fn the_test_api_server_serves_enforces_rbac_and_stops() -> interop_tests::Result<()> {
    let pids;
    {
        let server = ApiServer::start()?;
        let admin = server.identity("admin", &["system:masters"])?;
        let namespaces = server.get("/api/v1/namespaces", &admin)?;
        assert!(namespaces.contains("\"kube-system\""), "{namespaces}");

        // A user with no bindings is authenticated but may do nothing.
        let nobody = server.identity("nobody", &[])?;
        let denied = server.get("/api/v1/namespaces", &nobody)?;
        assert!(denied.contains("\"code\": 403"), "{denied}");
        assert!(denied.contains("User \\\"nobody\\\""), "{denied}");

        pids = server.pids();
        assert_eq!(pids.len(), 2);
    }
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} survived"
        );
    }
    Ok(())
}

/// The outage tests stop kube-apiserver or etcd and start it again: same
/// port, certificates and data, so clients reconnect with the kubeconfig
/// they have and find every object as it was.
#[test]
fn either_part_restarts_with_its_data_port_and_certificates()
-> Result<(), Box<dyn std::error::Error>> {
    use interop_tests::apiserver::Part;
    use interop_tests::wait::{self, Probe};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, PostParams};
    use std::time::Duration;

    let server = ApiServer::start()?;
    let admin = server.identity("admin", &["system:masters"])?;
    let (runtime, client) = admin_client(&server)?;
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut map = ConfigMap::default();
    map.metadata.name = Some("kept".into());
    map.data = Some([("k".to_string(), "v".to_string())].into());
    let created = runtime.block_on(maps.create(&PostParams::default(), &map))?;
    let port = server.port();
    let pids = server.pids();

    // kube-apiserver stopped: nothing answers on its port.
    server.stop(Part::KubeApiserver);
    assert!(!server.is_running(Part::KubeApiserver));
    assert!(server.is_running(Part::Etcd));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something still listens on {port}"
    );
    assert!(server.get("/readyz", &admin).is_err());
    server.start_again(Part::KubeApiserver)?;
    assert_eq!(server.port(), port);
    assert!(
        server.start_again(Part::KubeApiserver).is_err(),
        "a running part cannot be started twice"
    );
    let found = runtime.block_on(maps.get("kept"))?;
    assert_eq!(found.metadata.uid, created.metadata.uid);
    assert_eq!(found.data, map.data);

    // etcd stopped: the API server stays up but is not ready; once etcd is
    // back (same data directory) it is, with the same objects, and takes
    // writes again.
    server.stop(Part::Etcd);
    assert!(server.is_running(Part::KubeApiserver));
    wait::poll(
        "kube-apiserver /readyz to fail without etcd",
        Duration::from_secs(60),
        || {
            Ok(match server.get("/readyz", &admin) {
                Ok(body) if body.trim() == "ok" => Probe::Pending(body),
                Ok(body) => Probe::Done(body),
                Err(e) => Probe::Done(e.to_string()),
            })
        },
    )?;
    server.start_again(Part::Etcd)?;
    wait::poll(
        "kube-apiserver /readyz to answer ok with etcd back",
        Duration::from_secs(60),
        || {
            Ok(match server.get("/readyz", &admin) {
                Ok(body) if body.trim() == "ok" => Probe::Done(()),
                Ok(body) => Probe::Pending(body),
                Err(e) => Probe::Pending(e.to_string()),
            })
        },
    )?;
    let found = runtime.block_on(maps.get("kept"))?;
    assert_eq!(found.metadata.uid, created.metadata.uid);
    map.metadata.name = Some("after".into());
    runtime.block_on(maps.create(&PostParams::default(), &map))?;

    // New processes, and each start kept its own log.
    let now = server.pids();
    assert_eq!(now.len(), 2);
    assert!(now.iter().all(|p| !pids.contains(p)), "{pids:?} -> {now:?}");
    let logs = server.log_tail(1);
    assert!(logs.contains("etcd.2.log"), "{logs}");
    assert!(logs.contains("kube-apiserver.2.log"), "{logs}");
    Ok(())
}

/// `start_with`'s flags come after the defaults, so they win (the memory
/// benchmark widens the node port range past the default one), and a
/// restarted kube-apiserver keeps them.
#[test]
fn extra_flags_win_over_the_defaults_and_survive_a_restart()
-> Result<(), Box<dyn std::error::Error>> {
    use interop_tests::apiserver::Part;
    use k8s_openapi::api::core::v1::Service;
    use kube::api::{Api, PostParams};
    use serde_json::json;

    // Below the default range (30000-62767): only ours allows it.
    let server = ApiServer::start_with(&["--service-node-port-range=2000-2100"])?;
    let (runtime, client) = admin_client(&server)?;
    let services: Api<Service> = Api::namespaced(client, "default");
    let node_port = |name: &str, port: i32| -> Result<Service, serde_json::Error> {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}
        }))
    };
    let create = |svc: Service| runtime.block_on(services.create(&PostParams::default(), &svc));

    create(node_port("ours", 2050)?)?;
    let refused = create(node_port("default", 30001)?);
    assert!(
        refused.is_err(),
        "the default range still applies: {refused:?}"
    );

    server.stop(Part::KubeApiserver);
    server.start_again(Part::KubeApiserver)?;
    create(node_port("after-restart", 2051)?)?;
    Ok(())
}

/// A runtime and one admin client for a whole test: made before any
/// restart, the client must work after it.
fn admin_client(
    server: &ApiServer,
) -> Result<(tokio::runtime::Runtime, kube::Client), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(server.admin_kubeconfig())?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok::<_, Box<dyn std::error::Error>>(kube::Client::try_from(config)?)
    })?;
    Ok((runtime, client))
}
