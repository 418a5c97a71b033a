//! The deployment files hold together (kubectl is not at hand, so they are
//! parsed as YAML and checked against each other): the Deployment's probes
//! hit the endpoints `caplet serve --metrics` serves, on the port it is
//! told to listen on; every Secret it reads is defined; the Services select
//! its pods; nothing asks for a privilege confinement does not need; the
//! Dockerfile is multi-stage and runs the binary as a non-root user.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every document of every manifest the kustomization lists.
fn manifests() -> Vec<Yaml> {
    let dir = root().join("deploy/kubernetes");
    let read = |name: &str| {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let kustomization = read("kustomization.yaml").remove(0);
    let resources = kustomization["resources"].as_vec().expect("resources");
    assert!(!resources.is_empty());
    resources
        .iter()
        .flat_map(|name| read(name.as_str().expect("a file name")))
        .collect()
}

fn of_kind<'a>(docs: &'a [Yaml], kind: &str) -> Vec<&'a Yaml> {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

fn strings(value: &Yaml) -> Vec<&str> {
    value
        .as_vec()
        .map(|v| v.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default()
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| *a == flag)
        .and_then(|i| args.get(i + 1).copied())
}

#[test]
fn the_deployment_probes_serve_and_secrets_fit_together() {
    let docs = manifests();
    let deployments = of_kind(&docs, "Deployment");
    assert_eq!(deployments.len(), 1);
    let deployment = deployments[0];
    assert!(deployment["spec"]["replicas"].as_i64().unwrap() >= 2);
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(
        &deployment["spec"]["selector"]["matchLabels"], labels,
        "the selector matches the pods"
    );
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = strings(&container["args"]);
    assert_eq!(args[0], "serve");

    // The probes hit what --metrics serves, on its port.
    let metrics = flag(&args, "--metrics").expect("--metrics");
    let port: i64 = metrics.rsplit(':').next().unwrap().parse().unwrap();
    let port_named = |name: &str| {
        container["ports"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["containerPort"].as_i64())
    };
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert_eq!(
            port_named(get["port"].as_str().unwrap()),
            Some(port),
            "{probe}"
        );
    }
    let listen = flag(&args, "--listen").expect("--listen");
    let rpc: i64 = listen.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(port_named("rpc"), Some(rpc));

    // Every secret read is defined, with the key read.
    let secrets = of_kind(&docs, "Secret");
    let defines = |name: &str, key: &str| {
        secrets.iter().any(|s| {
            s["metadata"]["name"].as_str() == Some(name) && !s["stringData"][key].is_badvalue()
        })
    };
    for env in container["env"].as_vec().unwrap() {
        let from = &env["valueFrom"]["secretKeyRef"];
        let (name, key) = (
            from["name"].as_str().unwrap(),
            from["key"].as_str().unwrap(),
        );
        assert!(defines(name, key), "secret {name} key {key}");
        let var = env["name"].as_str().unwrap();
        assert!(
            args.contains(&format!("$({var})").as_str()),
            "{var} is used"
        );
    }
    let token_file = flag(&args, "--token-file").expect("--token-file");
    let mount = container["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|m| token_file.starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the token file is mounted");
    let volume = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    let secret = volume["secret"]["secretName"].as_str().unwrap();
    let key = volume["secret"]["items"][0]["key"].as_str().unwrap();
    assert!(defines(secret, key), "secret {secret} key {key}");

    // No privilege beyond what confinement uses (none).
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_ne!(pod["securityContext"]["runAsUser"].as_i64(), Some(0));
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_ne!(security["privileged"].as_bool(), Some(true));
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    assert!(security["capabilities"]["add"].is_badvalue());
    assert!(pod["hostPID"].is_badvalue() && pod["hostNetwork"].is_badvalue());

    // The Services select the pods and reach the RPC port.
    let services = of_kind(&docs, "Service");
    assert!(!services.is_empty());
    for service in services {
        let selector = service["spec"]["selector"].as_hash().unwrap();
        for (key, value) in selector {
            assert_eq!(&labels[key.as_str().unwrap()], value);
        }
        assert_eq!(
            service["spec"]["ports"][0]["targetPort"].as_str(),
            Some("rpc")
        );
    }
}

#[test]
fn the_dockerfile_is_multi_stage_and_runs_the_binary_as_non_root() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let stages: Vec<usize> = (0..lines.len())
        .filter(|i| lines[*i].starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 2, "multi-stage");
    let last = &lines[*stages.last().unwrap()..];
    // The final stage copies the binary from the build stage, and only it.
    let copies: Vec<&&str> = last.iter().filter(|l| l.starts_with("COPY ")).collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(copies[0].starts_with("COPY --from=build ") && copies[0].ends_with("/caplet"));
    assert!(
        !last.iter().any(|l| l.starts_with("RUN ")),
        "no RUN in the final stage"
    );
    let user = last
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "{user}"
    );
    // The manifests run as the image's user.
    let docs = manifests();
    let uid = of_kind(&docs, "Deployment")[0]["spec"]["template"]["spec"]["securityContext"]
        ["runAsUser"]
        .as_i64()
        .unwrap();
    assert_eq!(user.split(':').next().unwrap(), uid.to_string());
    // The build stage builds the package that owns the `caplet` binary.
    let build = lines[..*stages.last().unwrap()]
        .iter()
        .find(|l| l.contains("cargo build"))
        .expect("a cargo build in the build stage");
    let words: Vec<&str> = build.split_whitespace().collect();
    let package = words
        .iter()
        .position(|w| *w == "-p")
        .map(|i| words[i + 1])
        .expect("cargo build -p PACKAGE");
    // The root package's `[[bin]] caplet` (its name is the first `name =`
    // after `[package]`).
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let (_, package_section) = manifest.split_once("\n[package]\n").unwrap();
    let root_package = package_section
        .lines()
        .find_map(|l| l.strip_prefix("name = "))
        .unwrap()
        .trim_matches('"');
    assert!(manifest.contains("[[bin]]\nname = \"caplet\"\n"));
    assert_eq!(
        package, root_package,
        "the Dockerfile builds {package}, not the package of the caplet binary"
    );
}
