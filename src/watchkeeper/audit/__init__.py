"""Security and delivery audit of sites, hosts and databases: headers and cookies graded as
Mozilla's HTTP Observatory grades them, TLS, exposure and delivery, each as Findings."""
