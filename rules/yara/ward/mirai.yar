// Mirai and descendants: IoT botnet binaries also seen on exposed Linux servers.
rule Ward_Botnet_Mirai
{
    meta:
        threat_name = "Backdoor:Linux/Mirai"
        description = "strings of the Mirai bot (attack methods, killer and scanner tables)"
    strings:
        $a1 = "/bin/busybox MIRAI" ascii
        $a2 = "MIRAI: applet not found" ascii
        $b1 = "attack_udp_generic" ascii
        $b2 = "attack_tcp_syn" ascii
        $b3 = "attack_app_http" ascii
        $b4 = "killer_kill_by_port" ascii
        $b5 = "scanner_init" ascii
        $c1 = "/dev/watchdog" ascii
        $c2 = "/dev/misc/watchdog" ascii
        $c3 = "TSource Engine Query" ascii
    condition:
        filesize < 10MB and (any of ($a*) or 3 of ($b*) or (all of ($c*) and 1 of ($b*)))
}
