// The EICAR anti-malware test file: every scanner detects it, so it proves the scan path end to end.
rule Ward_EICAR_Test_File
{
    meta:
        threat_name = "Virus:DOS/EICAR_Test_File"
        description = "EICAR standard anti-virus test file"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar at 0 or ($eicar and filesize < 256)
}
