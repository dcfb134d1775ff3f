//! gin v1.10's route tree (`tree.go` in gin-gonic/gin: `addRoute`, `insertChild`, `getValue`),
//! ported so that the emulator finds the same route, the same `:param` values and the same
//! trailing-slash recommendation (`tsr`) as the server, quirks included: a static child is tried
//! before the wildcard and the walk backtracks to the wildcard only when the static branch
//! leads nowhere and the rest of the path is not `/`. So `POST /api/v1/public/login/verify/`
//! is a trailing-slash redirect, not the `:app/` route.
//!
//! Only what the server's routes use is ported: static and `:param` segments (no `*catchAll`),
//! no priorities (they only reorder children, which does not change any lookup).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum NodeType {
    #[default]
    Static,
    Root,
    Param,
}

#[derive(Debug, Clone, Default)]
pub struct Node<H> {
    path: String,
    /// The first byte of each static child, in the children's order.
    indices: Vec<u8>,
    /// The last child is a `:param` node.
    wild_child: bool,
    node_type: NodeType,
    children: Vec<Node<H>>,
    handler: Option<H>,
}

/// What `getValue` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup<'p, H> {
    pub handler: Option<H>,
    /// `:name` → value, in path order.
    pub params: Vec<(&'p str, &'p str)>,
    /// A handler exists for the path with the trailing slash added or removed.
    pub tsr: bool,
}

impl<'p, H> Lookup<'p, H> {
    fn nothing() -> Lookup<'p, H> {
        Lookup {
            handler: None,
            params: Vec::new(),
            tsr: false,
        }
    }

    pub fn param(&self, name: &str) -> &'p str {
        self.params
            .iter()
            .find(|(key, _)| *key == name)
            .map_or("", |(_, value)| value)
    }
}

fn longest_common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// `findWildcard`: the first `:name` segment and where it starts.
fn find_wildcard(path: &str) -> Option<(&str, usize)> {
    let start = path.find(':')?;
    let end = path[start..].find('/').map_or(path.len(), |e| start + e);
    Some((&path[start..end], start))
}

impl<H: Clone> Node<H> {
    pub fn new() -> Node<H> {
        Node {
            path: String::new(),
            indices: Vec::new(),
            wild_child: false,
            node_type: NodeType::Static,
            children: Vec::new(),
            handler: None,
        }
    }

    /// `addChild`: keeps the wildcard child at the end.
    fn add_child(&mut self, child: Node<H>) -> usize {
        if self.wild_child && !self.children.is_empty() {
            let at = self.children.len() - 1;
            self.children.insert(at, child);
            at
        } else {
            self.children.push(child);
            self.children.len() - 1
        }
    }

    /// `addRoute`. Panics on a route conflict, as gin does at startup (the table is fixed).
    pub fn add_route(&mut self, full_path: &str, handler: H) {
        if self.path.is_empty() && self.children.is_empty() {
            self.insert_child(full_path, handler);
            self.node_type = NodeType::Root;
            return;
        }
        let mut path = full_path;
        let mut n = self;
        loop {
            let i = longest_common_prefix(path, &n.path);
            // Split the edge.
            if i < n.path.len() {
                let child = Node {
                    path: n.path[i..].to_owned(),
                    indices: std::mem::take(&mut n.indices),
                    wild_child: n.wild_child,
                    node_type: NodeType::Static,
                    children: std::mem::take(&mut n.children),
                    handler: n.handler.take(),
                };
                n.indices = vec![n.path.as_bytes()[i]];
                n.children = vec![child];
                n.path.truncate(i);
                n.wild_child = false;
            }
            if i == path.len() {
                assert!(
                    n.handler.is_none(),
                    "handlers are already registered for path '{full_path}'"
                );
                n.handler = Some(handler);
                return;
            }
            path = &path[i..];
            let c = path.as_bytes()[0];
            // '/' after a param.
            if n.node_type == NodeType::Param && c == b'/' && n.children.len() == 1 {
                n = &mut n.children[0];
                continue;
            }
            if let Some(at) = n.indices.iter().position(|&index| index == c) {
                n = &mut n.children[at];
                continue;
            }
            if c != b':' {
                n.indices.push(c);
                let at = n.add_child(Node::new());
                n = &mut n.children[at];
            } else if n.wild_child {
                let last = n.children.len() - 1;
                n = &mut n.children[last];
                let same_wildcard = path.starts_with(n.path.as_str())
                    && (n.path.len() >= path.len() || path.as_bytes()[n.path.len()] == b'/');
                assert!(
                    same_wildcard,
                    "'{path}' in new path '{full_path}' conflicts with wildcard '{}'",
                    n.path
                );
                continue;
            }
            n.insert_child(path, handler);
            return;
        }
    }

    /// `insertChild` (params only).
    fn insert_child(&mut self, path: &str, handler: H) {
        let mut n = self;
        let mut path = path;
        while let Some((wildcard, i)) = find_wildcard(path) {
            assert!(wildcard.len() >= 2, "wildcards must be named");
            if i > 0 {
                n.path = path[..i].to_owned();
                path = &path[i..];
            }
            let at = n.add_child(Node {
                node_type: NodeType::Param,
                path: wildcard.to_owned(),
                ..Node::new()
            });
            n.wild_child = true;
            n = &mut n.children[at];
            if wildcard.len() < path.len() {
                path = &path[wildcard.len()..];
                let at = n.add_child(Node::new());
                n = &mut n.children[at];
                continue;
            }
            n.handler = Some(handler);
            return;
        }
        n.path = path.to_owned();
        n.handler = Some(handler);
    }

    /// `getValue`. Every path the walk looks at is a suffix of `full`, so it is kept as an
    /// offset; a skipped node is gin's copy of a node without its `indices`, so that going
    /// back to it tries its wildcard child only.
    pub fn get_value<'t: 'p, 'p>(&'t self, full: &'p str) -> Lookup<'p, H> {
        struct Skipped<'n, H> {
            start: usize,
            node: &'n Node<H>,
            params: usize,
        }
        let mut value = Lookup::nothing();
        let mut skipped: Vec<Skipped<'_, H>> = Vec::new();
        let mut n = self;
        let mut indices_hidden = false;
        let mut start = 0;
        'walk: loop {
            let path = &full[start..];
            let prefix = n.path.as_str();
            if path.len() > prefix.len() && path.starts_with(prefix) {
                start += prefix.len();
                let path = &full[start..];
                let first = path.as_bytes()[0];
                let indices: &[u8] = if indices_hidden { &[] } else { &n.indices };
                if let Some(at) = indices.iter().position(|&c| c == first) {
                    if n.wild_child {
                        skipped.push(Skipped {
                            start: start - prefix.len(),
                            node: n,
                            params: value.params.len(),
                        });
                    }
                    n = &n.children[at];
                    indices_hidden = false;
                    continue 'walk;
                }
                if !n.wild_child {
                    if path != "/" {
                        if let Some(back) = skipped.pop() {
                            start = back.start;
                            n = back.node;
                            indices_hidden = true;
                            value.params.truncate(back.params);
                            continue 'walk;
                        }
                    }
                    value.tsr = path == "/" && n.handler.is_some();
                    return value;
                }
                // The wildcard child, always last.
                n = &n.children[n.children.len() - 1];
                indices_hidden = false;
                let end = path.find('/').unwrap_or(path.len());
                value.params.push((&n.path[1..], &path[..end]));
                if end < path.len() {
                    if !n.children.is_empty() {
                        start += end;
                        n = &n.children[0];
                        continue 'walk;
                    }
                    value.tsr = path.len() == end + 1;
                    return value;
                }
                if n.handler.is_some() {
                    value.handler = n.handler.clone();
                    return value;
                }
                if let [child] = n.children.as_slice() {
                    value.tsr = (child.path == "/" && child.handler.is_some())
                        || (child.path.is_empty() && child.indices == b"/");
                }
                return value;
            }
            if path == prefix {
                if n.handler.is_none() && path != "/" {
                    if let Some(back) = skipped.pop() {
                        start = back.start;
                        n = back.node;
                        indices_hidden = true;
                        value.params.truncate(back.params);
                        continue 'walk;
                    }
                }
                if n.handler.is_some() {
                    value.handler = n.handler.clone();
                    return value;
                }
                if path == "/" && n.wild_child && n.node_type != NodeType::Root {
                    value.tsr = true;
                    return value;
                }
                if path == "/" && n.node_type == NodeType::Static {
                    value.tsr = true;
                    return value;
                }
                let indices: &[u8] = if indices_hidden { &[] } else { &n.indices };
                if let Some(at) = indices.iter().position(|&c| c == b'/') {
                    let child = &n.children[at];
                    value.tsr = child.path.len() == 1 && child.handler.is_some();
                }
                return value;
            }
            // Nothing found: recommend the path with a trailing slash if a leaf exists there.
            value.tsr = path == "/"
                || (prefix.len() == path.len() + 1
                    && prefix.as_bytes()[path.len()] == b'/'
                    && path == &prefix[..prefix.len() - 1]
                    && n.handler.is_some());
            if !value.tsr && path != "/" {
                if let Some(back) = skipped.pop() {
                    start = back.start;
                    n = back.node;
                    indices_hidden = true;
                    value.params.truncate(back.params);
                    continue 'walk;
                }
            }
            return value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gin's tree.go on a few of the server's routes (internal/api/router/public/login/init.go).
    #[test]
    fn static_before_wildcard_and_trailing_slash_recommendations() {
        let mut tree = Node::new();
        for (path, id) in [
            ("/api/v1/public/login/", 1),
            ("/api/v1/public/login/mfa", 2),
            ("/api/v1/public/login/verify", 3),
            ("/api/v1/public/login/passkey/", 4),
            ("/api/v1/public/login/:app/", 5),
            ("/api/v1/public/login/:app/:appCode", 6),
            ("/api/v1/app/token/refresh/", 7),
        ] {
            tree.add_route(path, id);
        }
        let found = |path: &str| tree.get_value(path).handler;
        let tsr = |path: &str| {
            let lookup = tree.get_value(path);
            lookup.handler.is_none() && lookup.tsr
        };
        assert_eq!(found("/api/v1/public/login/verify"), Some(3));
        assert!(tsr("/api/v1/public/login/verify/"));
        assert!(tsr("/api/v1/public/login/mfa/"));
        assert!(tsr("/api/v1/public/login/passkey"));
        assert!(tsr("/api/v1/public/login"));
        assert!(tsr("/api/v1/public/login/feishu"));
        assert!(tsr("/api/v1/public/login/feishu/Ab3dE6g8/"));
        assert!(tsr("/api/v1/app/token/refresh"));
        let third_party = tree.get_value("/api/v1/public/login/feishu/");
        assert_eq!(third_party.handler, Some(5));
        assert_eq!(third_party.param("app"), "feishu");
        let with_code = tree.get_value("/api/v1/public/login/feishu/Ab3dE6g8");
        assert_eq!(with_code.handler, Some(6));
        assert_eq!(with_code.param("appCode"), "Ab3dE6g8");
        // A static prefix that leads nowhere backtracks to the wildcard.
        assert_eq!(found("/api/v1/public/login/verifyx/"), Some(5));
        assert_eq!(found("/api/v1/public/login/mfa/x"), Some(6));
        assert!(!tsr("/api/v1/app/token/refresh/x"));
        assert!(!tsr("/api/v1/app/token"));
        assert_eq!(found("/nope"), None);
    }
}
