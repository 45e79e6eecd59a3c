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
