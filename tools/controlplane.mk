# targets for the local Kubernetes control plane (issue 3) live here
