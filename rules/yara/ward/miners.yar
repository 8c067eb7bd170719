// XMRig and its forks: the coin miner most often dropped on compromised Linux servers.
rule Ward_CoinMiner_XMRig
{
    meta:
        threat_name = "Trojan:Linux/CoinMiner.XMRig"
        description = "XMRig Monero miner binary or configuration"
    strings:
        $s1 = "xmrig" ascii nocase
        $s2 = "stratum+tcp://" ascii
        $s3 = "randomx" ascii nocase
        $s4 = "--donate-level" ascii
        $s5 = "cryptonight" ascii nocase
        $s6 = "\"pools\"" ascii
        $s7 = "nicehash" ascii nocase
    condition:
        filesize < 64MB and $s1 and 2 of ($s2, $s3, $s4, $s5, $s6, $s7)
}
