//! Test inputs written as users write them: MetalLB YAML, through the one
//! config compiler.

use ferrolb_crds::config::{Config, Resources, compile};
use ferrolb_crds::manifest::read_yaml;

/// Compiles `yaml`, failing the test on any manifest or compiler error.
pub fn compile_yaml(yaml: &str) -> Config {
    let mut resources = Resources::default();
    let (_, errors) = read_yaml(yaml, &mut resources);
    assert!(errors.is_empty(), "{errors:?}");
    match compile(&resources) {
        Ok(compiled) => compiled.config,
        Err(e) => panic!("{:?}", e.errors),
    }
}
