// Reverse-shell one-liners as they appear in dropped scripts, cron entries and shell profiles.
rule Ward_ReverseShell_Bash_DevTcp
{
    meta:
        threat_name = "Backdoor:Linux/ReverseShell.DevTcp"
        description = "bash redirecting an interactive shell to /dev/tcp"
    strings:
        $a = /(ba|z|k)?sh\s+-i\s+[>&]+\s*\/dev\/(tcp|udp)\/[^\/\s]+\/\d{1,5}/
        $b = /exec\s+\d+<>\/dev\/tcp\/[^\/\s]+\/\d{1,5}/
    condition:
        filesize < 5MB and any of them
}

rule Ward_ReverseShell_Netcat_Exec
{
    meta:
        threat_name = "Backdoor:Linux/ReverseShell.Netcat"
        description = "netcat started with a shell attached (-e / -c)"
    strings:
        $a = /\b(nc|ncat|netcat)(\.traditional|\.openbsd)?\s+(-[a-z]*\s+)*-[a-z]*[ec]\s+\/bin\/(ba)?sh/
        $b = /mkfifo\s+\S+;\s*(nc|ncat|netcat)\s+\S+\s+\d+\s*<\s*\S+\s*\|\s*\/bin\/(ba)?sh/
        $c = /rm\s+(-f\s+)?\/tmp\/f;\s*mkfifo\s+\/tmp\/f/
    condition:
        filesize < 5MB and any of them
}

rule Ward_ReverseShell_Interpreter_Socket
{
    meta:
        threat_name = "Backdoor:Linux/ReverseShell.Interpreter"
        description = "python/perl/php one-liner connecting a socket to a shell"
    strings:
        $py1 = "socket.socket(" ascii
        $py2 = "os.dup2(" ascii
        $py3 = /pty\.spawn\(|subprocess\.call\(\[["']\/bin\/(ba)?sh/
        $pl1 = "use Socket;" ascii
        $pl2 = /open\(STDIN,\s*["']>&S["']\)/
        $php1 = /fsockopen\([^)]*\);\s*(exec|shell_exec|system|passthru|proc_open)\(["']\/bin\/(ba)?sh/
    condition:
        filesize < 5MB and (all of ($py*) or all of ($pl*) or $php1)
}
